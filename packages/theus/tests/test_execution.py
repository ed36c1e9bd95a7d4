"""Return forms, failure atomicity, signals exactly once, concurrency, async."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from theus import (
    ContractViolation,
    ProcessNotFound,
    ReturnShapeError,
    StateUpdate,
    TheusEngine,
    process,
)
from theus_signals import OutboxMessage


def engine_with(*fns: Any, strict: bool = True, **ctx: Any) -> TheusEngine:
    engine = TheusEngine(ctx or {"domain": {"a": 0, "b": 0, "c": {"x": 0}}}, strict_mode=strict)
    for fn in fns:
        engine.register(fn)
    return engine


# -- return forms ------------------------------------------------------------------------
@pytest.mark.parametrize("strict", [True, False])
def test_single_value_goes_to_the_single_output(strict: bool) -> None:
    @process(outputs=["domain.a"])
    def f(ctx):  # type: ignore[no-untyped-def]
        return {"not": "an output key"}  # any other dict is a value

    e = engine_with(f, strict=strict)
    assert e.run("f") == {"not": "an output key"}
    assert e.state.get("domain.a") == {"not": "an output key"}


@pytest.mark.parametrize("strict", [True, False])
def test_tuple_is_positional_over_outputs(strict: bool) -> None:
    @process(outputs=["domain.a", "domain.b"])
    def f(ctx):  # type: ignore[no-untyped-def]
        return 1, 2

    e = engine_with(f, strict=strict)
    e.run(f)
    assert (e.state.get("domain.a"), e.state.get("domain.b")) == (1, 2)


def test_tuple_of_wrong_length_fails_and_rolls_back() -> None:
    @process(outputs=["domain.a", "domain.b"])
    def f(ctx):  # type: ignore[no-untyped-def]
        return 1, 2, 3

    e = engine_with(f)
    with pytest.raises(ReturnShapeError, match="3 values for 2 outputs"):
        e.run(f)
    assert e.state.version == 0


@pytest.mark.parametrize("strict", [True, False])
def test_dict_by_path_or_last_segment(strict: bool) -> None:
    @process(outputs=["domain.a", "domain.c.x"])
    def f(ctx):  # type: ignore[no-untyped-def]
        return {"a": 5, "domain.c.x": 6}

    e = engine_with(f, strict=strict)
    e.run(f)
    assert (e.state.get("domain.a"), e.state.get("domain.c.x")) == (5, 6)


def test_dict_keys_matching_glob_outputs() -> None:
    @process(outputs=["domain.c.*"])
    def f(ctx):  # type: ignore[no-untyped-def]
        return {"domain.c.y": 1, "domain.c.z": 2}

    e = engine_with(f)
    e.run(f)
    assert e.state.get("domain.c") == {"x": 0, "y": 1, "z": 2}

    @process(outputs=["domain.c.*"])
    def bare(ctx):  # type: ignore[no-untyped-def]
        return 3

    e.register(bare)
    with pytest.raises(ReturnShapeError, match="glob output"):
        e.run(bare)


@pytest.mark.parametrize("strict", [True, False])
def test_state_update_data_signals_heavy(strict: bool) -> None:
    buf = bytearray(8)

    @process(outputs=["domain.a", "domain.sig_done", "domain.heavy_buf"])
    def f(ctx):  # type: ignore[no-untyped-def]
        return StateUpdate(
            {"a": 9}, signals={"domain.sig_done": "yes"}, heavy={"domain.heavy_buf": buf}
        )

    e = engine_with(f, strict=strict)
    got: list[Any] = []
    e.signals.on("domain.*", lambda m: got.append((m.topic, m.payload)))
    e.run(f)
    assert e.state.get("domain.a") == 9
    assert e.state.get("domain.heavy_buf") is buf
    assert got == [("domain.sig_done", "yes")]


def test_state_update_outside_outputs_is_refused() -> None:
    @process(outputs=["domain.a"])
    def f(ctx):  # type: ignore[no-untyped-def]
        return StateUpdate(signals={"domain.sig_x": 1})

    e = engine_with(f)
    with pytest.raises(ContractViolation, match="domain.sig_x"):
        e.run(f)
    with pytest.raises(TypeError):
        StateUpdate([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize("strict", [True, False])
def test_none_with_ctx_writes_and_return_value_passthrough(strict: bool) -> None:
    @process(inputs=["domain.a"], outputs=["domain.b"])
    def f(ctx, k: int):  # type: ignore[no-untyped-def]
        ctx.domain.b = ctx.domain.a + k

    @process(inputs=["domain.a"], semantic="pure")
    def g(ctx):  # type: ignore[no-untyped-def]
        return {"report": ctx.domain.a}

    e = engine_with(f, g, strict=strict)
    assert e.run("f", k=4) is None
    assert e.state.get("domain.b") == 4
    assert e.run("g") == {"report": 0}
    assert e.state.version == 1  # a PURE process commits nothing


def test_unknown_process_and_undecorated_function() -> None:
    e = engine_with()
    with pytest.raises(ProcessNotFound, match="no process named 'nope'") as info:
        e.run("nope")
    assert isinstance(info.value, KeyError)

    def plain(ctx):  # type: ignore[no-untyped-def]
        return 1

    with pytest.raises(Exception, match="decorate it with @process"):
        e.run(plain)
    e.register(plain)  # registering a plain callable gives an empty EFFECT contract
    assert e.run("plain") == 1


# -- failure atomicity ----------------------------------------------------------------------
@pytest.mark.parametrize("strict", [True, False])
def test_failure_rolls_back_data_outbox_and_signals_but_not_heavy(strict: bool) -> None:
    buf = bytearray(4)

    @process(outputs=["domain.a", "domain.sig_x", "domain.heavy_h"])
    def f(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.a = 1
        ctx.domain.sig_x = "fired"
        ctx.domain.heavy_h = buf
        ctx.outbox.add(OutboxMessage("mail", {"to": "x"}))
        raise RuntimeError("boom")

    e = engine_with(f, strict=strict)
    seen: list[Any] = []
    e.signals.on("*", seen.append)
    with pytest.raises(RuntimeError, match="boom"):
        e.run(f)
    assert e.state.version == 0
    assert e.state.get("domain.a") == 0
    assert "domain.sig_x" not in e.state.signals
    assert seen == []
    assert len(e.outbox) == 0
    assert e.state.get("domain.heavy_h") is buf  # write-through by design
    assert e.audit.counts() == {"f:error": 1}


def test_declared_errors_propagate_without_audit_failure() -> None:
    @process(outputs=["domain.a"], errors=["ValueError"])
    def f(ctx):  # type: ignore[no-untyped-def]
        raise ValueError("insufficient funds")

    e = engine_with(f)
    with pytest.raises(ValueError, match="insufficient funds"):
        e.run(f)
    assert e.audit.counts().get("f:error", 0) == 0


def test_outbox_commits_with_the_process() -> None:
    @process(outputs=["domain.a"])
    def f(ctx, n: int):  # type: ignore[no-untyped-def]
        for i in range(n):
            ctx.outbox.add(OutboxMessage("mail", i, key=f"m{i}"))
        assert len(ctx.outbox) == n
        return n

    e = engine_with(f)
    e.run(f, n=3)
    assert [m.payload for m in e.outbox.pending()] == [0, 1, 2]
    delivered: list[Any] = []
    assert e.relay(delivered.append).run_once() == 3
    assert [m.key for m in delivered] == ["m0", "m1", "m2"]
    assert len(e.outbox) == 0


# -- signals ------------------------------------------------------------------------------------
def test_signals_published_once_in_order_after_commit() -> None:
    @process(outputs=["domain.sig_a", "domain.sig_b", "domain.a"])
    def f(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.sig_b = 1
        ctx.domain.sig_a = 2
        ctx.domain.a = 3

    e = engine_with(f)
    sub = e.signals.subscribe("domain.sig_*")
    versions: list[int] = []
    e.signals.on("domain.sig_b", lambda m: versions.append(e.state.version))
    e.run(f)
    msgs = [sub.try_recv(), sub.try_recv(), sub.try_recv()]
    assert [(m.topic, m.payload) for m in msgs[:2]] == [("domain.sig_b", 1), ("domain.sig_a", 2)]
    assert msgs[2] is None  # exactly once
    assert versions == [1]  # published after the commit was visible
    e.run(f)  # a second run publishes again (new commit), not the old ones
    assert [sub.try_recv().topic, sub.try_recv().topic, sub.try_recv()] == [
        "domain.sig_b",
        "domain.sig_a",
        None,
    ]


# -- concurrency --------------------------------------------------------------------------------
def test_four_threads_same_key_no_lost_update() -> None:
    @process(inputs=["domain.a"], outputs=["domain.a"])
    def incr(ctx):  # type: ignore[no-untyped-def]
        return ctx.domain.a + 1

    e = engine_with(incr)

    def worker() -> None:
        for _ in range(500):
            e.run("incr")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert e.state.get("domain.a") == 2000
    assert e.state.version == 2000


def test_conflict_retry_reruns_the_body_and_outbox_is_not_duplicated() -> None:
    e = engine_with()
    calls: list[int] = []

    @process(inputs=["domain.a"], outputs=["domain.a"])
    def slow(ctx):  # type: ignore[no-untyped-def]
        calls.append(1)
        v = ctx.domain.a
        if len(calls) == 1:  # a competing commit lands while we run
            e.compare_and_swap(e.state.version, {"domain.a": 100})
        ctx.outbox.add(OutboxMessage("t", v, key=f"k{len(calls)}"))
        return v + 1

    e.register(slow)
    e.run(slow)
    assert len(calls) == 2
    assert e.state.get("domain.a") == 101
    assert [m.key for m in e.outbox.pending()] == ["k2"]  # the first attempt's batch dropped


# -- async ----------------------------------------------------------------------------------------
def test_execute_sync_and_async_processes() -> None:
    @process(inputs=["domain.a"], outputs=["domain.a"])
    def sync_step(ctx):  # type: ignore[no-untyped-def]
        return ctx.domain.a + 1

    @process(inputs=["domain.a"], outputs=["domain.b"])
    async def async_step(ctx):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        return ctx.domain.a * 10

    e = engine_with(sync_step, async_step)

    async def main() -> Any:
        await e.execute(sync_step)
        return await e.execute("async_step")

    assert asyncio.run(main()) == 10
    assert e.state.get("domain.b") == 10
    assert e.run("async_step") == 10  # run() drives an async process to completion


def test_concurrent_async_tasks_no_lost_update() -> None:
    @process(inputs=["domain.a"], outputs=["domain.a"])
    async def incr(ctx):  # type: ignore[no-untyped-def]
        v = ctx.domain.a
        await asyncio.sleep(0)  # let the other tasks interleave: conflicts happen
        return v + 1

    e = engine_with(incr)

    async def main() -> None:
        await asyncio.gather(*(e.execute(incr) for _ in range(50)))

    asyncio.run(main())
    assert e.state.get("domain.a") == 50


def test_closed_engine_refuses_work() -> None:
    @process(outputs=["domain.a"])
    def f(ctx):  # type: ignore[no-untyped-def]
        return 1

    with engine_with(f) as e:
        e.run(f)
    with pytest.raises(Exception, match="closed"):
        e.run(f)
