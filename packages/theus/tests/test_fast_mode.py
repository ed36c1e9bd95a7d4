"""``strict_mode=False``: the unguarded fast path gives the same results as strict mode
for every correct process, stays atomic, and keeps the copy-on-write guarantee."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from theus import (
    ContractViolation,
    InvalidProcess,
    ProcessNotFound,
    TheusEngine,
    TheusError,
    View,
    process,
)
from theus._calls import _LANES_MAX
from theus_signals import OutboxMessage
from theus_state import ConflictError, FrozenMap, InvalidPath, MemoryJournal, ZoneViolation
from theus_state._index import LATER_MAX


def both(ctx: dict[str, Any], *fns: Any) -> tuple[TheusEngine, TheusEngine]:
    engines = []
    for strict in (True, False):
        engine = TheusEngine(ctx, strict_mode=strict)
        for fn in fns:
            engine.register(fn)
        engines.append(engine)
    return engines[0], engines[1]


@process(
    inputs=["domain.user", "domain.n", "domain.items"],
    outputs=["domain.user", "domain.user.name", "domain.n", "domain.items", "domain.tags"],
)
def mixed(ctx, seen: list[Any]):  # type: ignore[no-untyped-def]
    n = ctx.domain.n
    ctx.domain.n = n + 1
    seen.append(ctx.domain.n)  # read-your-writes
    ctx.domain["user.name"] = "ann"
    seen.append(ctx.domain.user.name)  # a read below a pending write
    ctx.domain.tags = ["a", "b"]
    seen.append(list(ctx.domain.tags))
    del ctx.domain.items
    seen.append("items" in ctx.domain)
    ctx.domain.n = ctx.domain.n * 10


def test_fast_and_strict_give_the_same_state_and_results() -> None:
    ctx = {"domain": {"user": {"name": "bob", "age": 3}, "n": 1, "items": [1]}}
    strict, fast = both(ctx, mixed)
    seen_strict: list[Any] = []
    seen_fast: list[Any] = []
    strict.run("mixed", seen=seen_strict)
    fast.run("mixed", seen=seen_fast)
    assert seen_strict == seen_fast == [2, "ann", ["a", "b"], False]
    assert strict.state.to_dict() == fast.state.to_dict()
    assert fast.state.get("domain.n") == 20
    assert fast.state.version == strict.state.version == 1
    assert [r.changes for r in fast.history()] == [r.changes for r in strict.history()]


def test_context_api_is_the_same() -> None:
    @process(inputs=["domain.items", "domain.keys"])
    def look(ctx):  # type: ignore[no-untyped-def]
        assert isinstance(ctx.domain, View)
        assert ctx.domain is ctx.domain_ctx
        ctx.local.scratch = 1
        # a field wins over the mapping method of the same name
        return ctx.domain.items, ctx.domain.keys, ctx.process_name, ctx.version

    strict, fast = both({"domain": {"items": 5, "keys": 6}}, look)
    assert strict.run(look) == fast.run(look) == (5, 6, "look", 0)


def test_private_names_and_ctx_writes_are_refused() -> None:
    @process()
    def sneaky(ctx, name: str):  # type: ignore[no-untyped-def]
        return getattr(ctx, name)

    @process()
    def setter(ctx):  # type: ignore[no-untyped-def]
        ctx.domain = 1

    _, fast = both({"domain": {"a": 1}}, sneaky, setter)
    for name in ("_run", "_anything", "_FastContext__x"):
        with pytest.raises(ContractViolation, match="private"):
            fast.run(sneaky, name=name)
    with pytest.raises(AttributeError):
        fast.run(sneaky, name="no_such_attribute")
    with pytest.raises(ContractViolation):
        fast.run(setter)
    assert fast.state.version == 0


def test_a_value_mutated_after_the_write_does_not_leak() -> None:
    @process(outputs=["domain.items", "domain.cfg"])
    def writer(ctx, out: list[Any]):  # type: ignore[no-untyped-def]
        items = [1, 2]
        cfg = {"k": 1}
        ctx.domain.items = items
        ctx.domain.cfg = cfg
        items.append(3)
        cfg["k"] = 2
        out.append(list(ctx.domain.items))

    _, fast = both({"domain": {}}, writer)
    out: list[Any] = []
    fast.run(writer, out=out)
    assert out == [[1, 2]]
    assert fast.state.get("domain.items") == [1, 2]
    assert fast.state.get("domain.cfg") == {"k": 1}


def test_write_order_is_kept_for_overlapping_paths() -> None:
    @process(outputs=["domain.user", "domain.user.name"])
    def overlap(ctx):  # type: ignore[no-untyped-def]
        ctx.domain["user.name"] = "x"
        ctx.domain.user = {"name": "y", "age": 1}
        ctx.domain["user.name"] = "z"

    strict, fast = both({"domain": {"user": {"name": "a"}}}, overlap)
    strict.run(overlap)
    fast.run(overlap)
    assert fast.state.get("domain.user") == strict.state.get("domain.user")
    assert fast.state.get("domain.user") == {"name": "z", "age": 1}


def test_bad_writes_fail_at_commit_and_leave_no_trace() -> None:
    @process(outputs=["domain.*"])
    def over_constant(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.a = 5
        ctx.domain.cfg = 1  # a scalar over a mapping that holds a CONSTANT field

    @process(outputs=["domain.*"])
    def below_scalar(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.a = 6
        ctx.domain["a.b"] = 1

    _, fast = both({"domain": {"a": 0, "cfg": {"const_id": 7}}}, over_constant, below_scalar)
    with pytest.raises(ZoneViolation):
        fast.run(over_constant)
    with pytest.raises(InvalidPath):
        fast.run(below_scalar)
    assert fast.state.version == 0
    assert fast.state.get("domain.a") == 0
    assert fast.audit.counts() == {"over_constant:error": 1, "below_scalar:error": 1}


def test_signals_outbox_and_rollback() -> None:
    @process(outputs=["domain.sig_b", "domain.sig_a", "domain.a"])
    def emit(ctx, fail: bool = False):  # type: ignore[no-untyped-def]
        ctx.domain.sig_b = 1
        ctx.domain.sig_a = {"k": 2}
        ctx.domain.a = 3
        ctx.outbox.add(OutboxMessage("mail", "hi", key="m1"))
        if fail:
            raise RuntimeError("boom")

    _, fast = both({"domain": {"a": 0}}, emit)
    seen: list[Any] = []
    fast.signals.on("*", lambda m: seen.append((m.topic, m.payload, fast.state.version)))
    with pytest.raises(RuntimeError):
        fast.run(emit, fail=True)
    assert seen == [] and len(fast.outbox) == 0 and fast.state.version == 0
    fast.run(emit)
    assert seen == [("domain.sig_b", 1, 1), ("domain.sig_a", {"k": 2}, 1)]
    assert type(seen[1][1]) is FrozenMap  # never the storage form
    assert [m.key for m in fast.outbox.pending()] == ["m1"]
    assert fast.state.signals == {"domain.sig_b": 1, "domain.sig_a": {"k": 2}}


def test_audit_rules_and_failure_counts_apply() -> None:
    recipe = {
        "processes": {
            "checked": {
                "inputs": [{"field": "amount", "max": 10, "level": "A"}],
                "outputs": [{"field": "a", "max": 100, "level": "A"}],
            }
        }
    }

    @process(outputs=["domain.a"])
    def checked(ctx, amount: int):  # type: ignore[no-untyped-def]
        return amount * 20

    @process(outputs=["domain.a"])
    def flaky(ctx, fail: bool):  # type: ignore[no-untyped-def]
        if fail:
            raise RuntimeError("flaky")
        return 1

    engine = TheusEngine({"domain": {"a": 0}}, strict_mode=False, audit=recipe)
    engine.register(checked)
    engine.register(flaky)
    from theus_audit import AuditAbortError

    with pytest.raises(AuditAbortError):
        engine.run(checked, amount=11)  # input rule
    with pytest.raises(AuditAbortError):
        engine.run(checked, amount=6)  # output rule: 120 > 100
    assert engine.state.version == 0
    assert engine.run(checked, amount=5) == 100
    with pytest.raises(RuntimeError):
        engine.run(flaky, fail=True)
    assert engine.audit.counts()["flaky:error"] == 1
    engine.run(flaky, fail=False)  # a success resets the count
    assert engine.audit.counts()["flaky:error"] == 0


def test_threads_each_commit_and_history_is_complete() -> None:
    @process(outputs=["domain.*"])
    def put(ctx, key: str, value: int):  # type: ignore[no-untyped-def]
        setattr(ctx.domain, key, value)

    _, fast = both({"domain": {}}, put)
    per_thread = 300

    def worker(t: int) -> None:
        for i in range(per_thread):
            fast.run(put, key=f"k{t}", value=i)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fast.state.version == 4 * per_thread
    assert fast.state.to_dict()["domain"] == {f"k{t}": per_thread - 1 for t in range(4)}
    records = list(fast.history())
    assert [r.version for r in records] == list(range(1, 4 * per_thread + 1))
    for record in records[::97]:  # each version is the snapshot its commit made
        ((path, value),) = record.changes.items()
        assert fast.at(record.version).get(path) == value


@pytest.mark.parametrize("strict", [True, False])
def test_a_call_leaves_no_reference_cycle(strict: bool) -> None:
    """Per-call objects are freed by reference counting: with the cyclic GC off, a
    thousand calls leave nothing for ``gc.collect()`` to find."""
    import gc

    @process(
        inputs=["domain.n", "global.rate"],
        outputs=["domain.n", "domain.sig_tick", "domain.cfg"],
    )
    def busy(ctx):  # type: ignore[no-untyped-def]
        ctx.local.tmp = ctx.global_.rate
        ctx.domain.n = ctx.domain.n + ctx.local.tmp
        ctx.domain.sig_tick = ctx.domain.n
        ctx.domain.cfg = {"k": [1, 2]}
        ctx.outbox.add(OutboxMessage("tick", 1))
        assert ctx.domain_ctx is ctx.domain

    engine = TheusEngine({"domain": {"n": 0}, "global": {"rate": 2}}, strict_mode=strict)
    engine.register(busy)
    engine.run(busy)  # warm caches
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds stays in gc.garbage
    try:
        for _ in range(1000):
            engine.run(busy)
        gc.collect()
        # only objects of theus and its leaves count (another thread of the test run
        # may leave garbage of its own meanwhile)
        ours = [
            type(o).__qualname__
            for o in gc.garbage
            if type(o).__module__.split(".")[0].startswith("theus")
        ]
        assert ours == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
    assert engine.state.get("domain.n") == 2002


@pytest.mark.parametrize("strict", [True, False])
def test_a_ctx_kept_after_its_call_is_read_only(strict: bool) -> None:
    kept: list[Any] = []

    @process(inputs=["domain.a"], outputs=["domain.a", "domain.b", "global.x"])
    def leak(ctx, fail: bool = False):  # type: ignore[no-untyped-def]
        kept.append(ctx)
        ctx.domain.a = 1
        if fail:
            raise RuntimeError("boom")

    engine = TheusEngine({"domain": {"a": 0, "b": 0}}, strict_mode=strict)
    engine.register(leak)
    engine.run(leak)
    ctx = kept.pop()
    assert ctx.domain.a == 1  # the call's own view of the state stays readable
    from theus_state import TransactionClosed

    for write in (
        lambda: setattr(ctx.domain, "a", 5),
        lambda: setattr(ctx.domain, "b", [1]),
        lambda: ctx.domain.__setitem__("b", 2),
        lambda: delattr(ctx.domain, "b"),
        lambda: setattr(ctx.global_, "x", 1),
    ):
        with pytest.raises(TransactionClosed, match="committed"):
            write()
    with pytest.raises(RuntimeError):
        engine.run(leak, fail=True)
    with pytest.raises(TransactionClosed, match="rolled back"):
        kept.pop().domain.b = 3
    assert engine.state.to_dict()["domain"] == {"a": 1, "b": 0}
    assert [r.changes for r in engine.history()] == [{"domain.a": 1}]


@pytest.mark.parametrize("strict", [True, False])
def test_run_by_name_function_alias_or_unregistered(strict: bool) -> None:
    # ``run`` goes straight to a registered process's call; the other targets resolve
    engine = TheusEngine({"domain": {"n": 0}}, strict_mode=strict)

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def bump(ctx: Any, by: int = 1) -> None:
        ctx.domain.n = ctx.domain.n + by

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def loose(ctx: Any) -> int:
        return int(ctx.domain.n) * 2

    engine.register(bump)
    engine.register(bump, name="alias")
    engine.run("bump")
    engine.run(bump, by=10)
    engine.run("alias", by=100)
    engine.run(loose)  # never registered
    assert engine.state.get("domain.n") == 222
    assert engine.state.version == 4
    with pytest.raises(InvalidProcess, match="not a process"):
        engine.run(["bump"])  # unhashable: the usual error, not a TypeError from a dict
    with pytest.raises(ProcessNotFound):
        engine.run("nope")
    engine.close()
    with pytest.raises(TheusError, match="closed"):
        engine.run("bump")
    assert engine.state.get("domain.n") == 222


def test_processes_made_on_the_fly_do_not_grow_the_engine() -> None:
    # a process made per request (never registered) gets a lane that is dropped later
    engine = TheusEngine({"domain": {"n": 0}}, strict_mode=False)
    for i in range(_LANES_MAX + 10):

        @process(outputs=["domain.n"])
        def put(ctx: Any, value: int = i) -> int:
            return value

        engine.run(put)
    assert engine.state.get("domain.n") == _LANES_MAX + 9
    assert len(engine._lanes) <= _LANES_MAX


@pytest.mark.parametrize("calls", [1, 3 * LATER_MAX + 7])
def test_transactions_see_fast_commits_as_conflicts(calls: int) -> None:
    # fast commits record their paths in the change index lazily: a transaction that
    # read a path they changed must still conflict, one that did not must commit
    engine = TheusEngine({"domain": {"n": 0, "other": 0, "user": {"a": 1}}}, strict_mode=False)

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def bump(ctx: Any) -> None:
        ctx.domain.n = ctx.domain.n + 1

    engine.register(bump)
    stale = engine.transaction()
    stale.get("domain.n")
    sibling = engine.transaction()
    sibling.get("domain.other")
    below = engine.transaction()
    below.get("domain.user.a")
    for _ in range(calls):
        engine.run("bump")
    stale.set("domain.other", 1)
    with pytest.raises(ConflictError) as info:
        stale.commit()
    assert info.value.path == "domain.n" and info.value.actual == calls
    sibling.set("domain.other", 2)
    assert sibling.commit() == calls + 1
    # a CAS in between: the index must not go back to an older version
    engine.compare_and_swap(engine.state.version, {"domain.user": {"a": 2}})
    engine.run("bump")
    below.set("domain.fresh", 3)
    with pytest.raises(ConflictError) as info:
        below.commit()
    assert info.value.path == "domain.user.a"
    late = engine.transaction()
    late.get("domain.n")
    engine.run("bump")
    late.set("domain.n", -1)
    with pytest.raises(ConflictError):
        late.commit()
    # a fast commit still unrecorded, then a CAS: recording the fast one after the CAS
    # would turn the layer's last change back to an older version
    engine.run("bump")
    whole = engine.transaction()
    whole.get("domain")
    engine.compare_and_swap(engine.state.version, {"domain.other": 5})
    whole.set("domain.fresh", 4)
    with pytest.raises(ConflictError) as info:
        whole.commit()
    assert info.value.path == "domain"
    assert engine.state.get("domain.n") == calls + 3
    assert engine.state.get("domain.other") == 5


def test_a_signal_written_with_plain_fields_is_cleared_by_the_next_commit() -> None:
    # a call mixing the view's scalar writes with a SIGNAL write takes the checked
    # commit: the signal is in that commit's snapshot only
    engine = TheusEngine({"domain": {"n": 0}}, strict_mode=False)

    @process(inputs=["domain.n"], outputs=["domain.n", "domain.sig_done"])
    def step(ctx: Any) -> None:
        ctx.domain.n = ctx.domain.n + 1
        ctx.domain.sig_done = ctx.domain.n

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def quiet(ctx: Any) -> None:
        ctx.domain.n = ctx.domain.n + 1

    engine.register(step)
    engine.register(quiet)
    engine.run("step")
    assert engine.state.signals == {"domain.sig_done": 1}
    assert engine.state.get("domain.sig_done") == 1
    engine.run("quiet")
    assert engine.state.signals == {}
    assert engine.state.get("domain.sig_done", None) is None
    assert engine.state.get("domain.n") == 2


COPIES = 15


def test_transactions_racing_fast_commits_never_commit_a_stale_read() -> None:
    # two threads bump n with blind fast commits while two copy n into shadow through
    # transactions: every commit of shadow must hold the n of its own snapshot
    engine = TheusEngine(
        {"domain": {"n": 0, "shadow": 0}},
        strict_mode=False,
        journal=MemoryJournal(keep_last=None),
    )

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def bump(ctx: Any) -> None:
        ctx.domain.n = ctx.domain.n + 1

    engine.register(bump)
    store = engine.store

    def copy(tx: Any) -> None:
        n = tx.get("domain.n")
        time.sleep(0)  # let the bumpers commit between the read and the commit
        tx.set("domain.shadow", n)

    done = threading.Event()
    bumps = [0, 0]

    def bumper(i: int) -> None:
        while not done.is_set():
            for _ in range(20):
                engine.run("bump")
            bumps[i] += 20
            time.sleep(0)

    def copier() -> None:
        for _ in range(COPIES):
            store.run_with_retry(copy, key="copier")

    bumpers = [threading.Thread(target=bumper, args=(i,)) for i in range(2)]
    copiers = [threading.Thread(target=copier) for _ in range(2)]
    for t in bumpers + copiers:
        t.start()
    for t in copiers:
        t.join()
    done.set()
    for t in bumpers:
        t.join()
    copies = [r.version for r in engine.history() if "domain.shadow" in r.changes]
    assert len(copies) == 2 * COPIES
    for version in copies:
        snapshot = engine.at(version)
        assert snapshot.get("domain.shadow") == snapshot.get("domain.n"), version
    assert sum(bumps) > 0  # (two bumpers: last writer wins on n, by design)
    assert engine.state.version == sum(bumps) + 2 * COPIES
