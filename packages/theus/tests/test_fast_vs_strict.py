"""Differential property: random programs give the same results in fast and strict mode.

The same random sequence of ``engine.run`` calls goes to a strict engine and to a fast
engine (``strict_mode=False``) built from the same context (and to a strict in-memory
engine and a durable one, which is then reopened from its file). Contracts are broad
(``domain`` in and out, every error declared) so strict mode's guards never refuse what a
program does: fast mode has no guards by design (docs/theus.md, "Running"). Everything
else fast mode promises to keep is compared after every call: the call's return value
(or exception type), what the body observed through ``ctx``, the state and its version,
the last commit's signals, the SIGNAL messages published on ``engine.signals`` (topic,
payload, order), the pending outbox and every history record (version, requester,
changes, and the state ``engine.at`` gives for it). A failing call must leave state,
version, outbox, history and the hub untouched in both engines.

Not compared (documented differences): contract checks, and the moment a plain write (a
scalar on a ``layer.field``) that the current state cannot take (over a mapping holding a
CONSTANT field) is refused -- strict mode refuses it at the write, fast mode when the
call commits or makes its shadow transaction (``theus._fast``). Both refuse the call;
when strict mode refused such a write, fast mode may fail later in the body with another
exception.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from theus import ContractViolation, StateUpdate, TheusEngine, View, process
from theus_signals import OutboxMessage
from theus_state import InvalidPath, PathNotFound, ZoneViolation

# -- the processes ------------------------------------------------------------------------

EVERYTHING = ["Exception"]  # every error declared: nothing is reported as undeclared


class Boom(Exception):
    """Raised by a program after some writes."""


def canon(value: Any) -> Any:
    """A comparable form of a value that keeps container and scalar types (so a plain
    list where the other engine gives a frozen one is a difference)."""
    if isinstance(value, View):
        return ("view", value.path)
    if isinstance(value, Mapping):
        return ("map", type(value).__name__, {k: canon(v) for k, v in value.items()})
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return ("seq", type(value).__name__, [canon(v) for v in value])
    if isinstance(value, StateUpdate):
        return ("update", canon(value.data), canon(value.signals), canon(value.heavy))
    if value is None or isinstance(value, int | float | str | bytes):
        return (type(value).__name__, value)
    return ("other", type(value).__name__, repr(value))


def look(read: Any) -> Any:
    """What one read observes: its value, or the kind of miss."""
    try:
        return ("ok", canon(read()))
    except (LookupError, AttributeError) as exc:
        return ("missing", type(exc).__name__)


def step(ctx: Any, op: tuple[Any, ...], seen: list[Any]) -> None:
    d = ctx.domain
    kind = op[0]
    if kind == "get":
        seen.append(look(lambda: getattr(d, op[1])))
    elif kind == "item":
        seen.append(look(lambda: d[op[1]]))
    elif kind == "has":
        seen.append(op[1] in d)
    elif kind == "keys":
        seen.append(sorted(d.keys()))
    elif kind == "dict":
        seen.append(canon(d.to_dict()))
    elif kind == "len":
        seen.append(len(d))
    elif kind == "signal":
        seen.append(look(lambda: ctx.signal[f"domain.{op[1]}"]))
    elif kind == "set":
        setattr(d, op[1], op[2])
    elif kind == "setitem":
        d[op[1]] = op[2]
    elif kind == "rw":  # read-after-write in the same call
        setattr(d, op[1], op[2])
        seen.append(look(lambda: getattr(d, op[1])))
        if type(op[2]) is int:
            seen.append(getattr(d, op[1]) + 1)
    elif kind == "del":
        _, path, caught = op
        if caught:
            try:
                del d[path]
            except LookupError as exc:
                seen.append(("del failed", type(exc).__name__))
        else:
            del d[path]
    elif kind == "delattr":
        delattr(d, op[1])
    elif kind == "mutate":  # values are frozen when written
        _, name, as_dict = op
        value: Any = {"p": 1} if as_dict else [1]
        setattr(d, name, value)
        if as_dict:
            value["q"] = 2
        else:
            value.append(2)
        seen.append(look(lambda: getattr(d, name)))
    elif kind == "copy":  # write back a (frozen) value read from the context
        _, src, dst = op
        if src in d:
            setattr(d, dst, getattr(d, src))
    elif kind == "outbox":
        _, topic, payload, key = op
        ctx.outbox.add(OutboxMessage(topic, payload, key=key))
    elif kind == "boom":
        raise Boom("after some writes")
    else:  # pragma: no cover - the strategy makes only the kinds above
        raise AssertionError(op)


@process(inputs=["domain"], outputs=["domain"], errors=EVERYTHING)
def prog(ctx, ops, ret, seen):  # type: ignore[no-untyped-def]
    """The generic process: ``ops`` through ``ctx``, then one of the return forms."""
    for i, op in enumerate(ops):
        try:
            step(ctx, op, seen)
        except BaseException:
            seen.append(("raised at", i))
            raise
    kind = ret[0]
    if kind == "paths":  # a dict keyed by (concrete) output paths
        return {f"domain.{path}": value for path, value in ret[1]}
    if kind == "update":
        return StateUpdate(
            data={f"domain.{path}": value for path, value in ret[1]},
            signals={f"domain.{path}": value for path, value in ret[2]},
        )
    if kind == "value":  # a plain value for the single output ``domain``: refused
        return ret[1]
    return None


@process(inputs=["domain.a"], outputs=["domain.a"], errors=EVERYTHING)
def put_a(ctx, value):  # type: ignore[no-untyped-def]
    """A single value for the single output."""
    return value


@process(inputs=["domain.a", "domain.b"], outputs=["domain.a", "domain.b"], errors=EVERYTHING)
def put_ab(ctx, a, b, form):  # type: ignore[no-untyped-def]
    if form == "tuple":
        return (a, b)
    if form == "last":  # keyed by last segments
        return {"a": a, "b": b}
    if form == "short":  # a tuple of the wrong length: ReturnShapeError
        return (a,)
    return {"domain.a": a, "domain.b": b}


@process(inputs=["domain.*"], outputs=["domain.*"], errors=EVERYTHING)
def glob(ctx, name, value, form):  # type: ignore[no-untyped-def]
    if form == "bare":  # a bare value for a glob output: ReturnShapeError
        return value
    if form == "ctx":
        setattr(ctx.domain, name, value)
        return None
    return {f"domain.{name}": value}  # a concrete path under the glob output


@process(outputs=["domain.sig_s"], errors=EVERYTHING)
def emit(ctx, value):  # type: ignore[no-untyped-def]
    """A signal through a SIGNAL-zone output."""
    return value


@process(inputs=["domain"], semantic="pure", errors=EVERYTHING)
def peek(ctx):  # type: ignore[no-untyped-def]
    """No outputs: the return value is only returned."""
    return ctx.domain.to_dict()


PROCESSES = (prog, put_a, put_ab, glob, emit, peek)

# -- random programs ----------------------------------------------------------------------

# a small alphabet, so that steps collide: DATA fields, a SIGNAL field, a CONSTANT field
NAMES = st.sampled_from(["a", "a", "b", "b", "c", "sig_s", "const_k"])
SUBS = st.sampled_from(["p", "q", "sig_q", "const_k"])
PATHS = NAMES | st.builds(lambda n, s: f"{n}.{s}", NAMES, SUBS)
SCALARS = st.integers(-2, 3) | st.sampled_from(["x", "y", None, True, 1.5])
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(SUBS, inner, max_size=3)  # type: ignore[operator]
    ),
    max_leaves=5,
)

OPS = st.one_of(
    st.tuples(st.just("get"), NAMES),
    st.tuples(st.just("item"), PATHS),
    st.tuples(st.just("has"), PATHS),
    st.tuples(st.sampled_from(["keys", "dict", "len"])),
    st.tuples(st.just("signal"), st.sampled_from(["sig_s", "a.sig_q", "b.sig_q"])),
    st.tuples(st.just("set"), NAMES, VALUES),
    st.tuples(st.just("setitem"), PATHS, VALUES),
    st.tuples(st.just("rw"), NAMES, VALUES),
    st.tuples(st.just("del"), PATHS, st.booleans()),
    st.tuples(st.just("delattr"), NAMES),
    st.tuples(st.just("mutate"), NAMES, st.booleans()),
    st.tuples(st.just("copy"), NAMES, NAMES),
    st.tuples(
        st.just("outbox"),
        st.sampled_from(["t1", "t2"]),
        VALUES,
        st.sampled_from(["k1", "k2", "k3"]),
    ),
    st.tuples(st.just("boom")),
)
WRITES = st.lists(st.tuples(PATHS, VALUES), max_size=2)
RETURNS = st.one_of(
    st.just(("none",)),
    st.tuples(st.just("paths"), WRITES),
    st.tuples(
        st.just("update"),
        WRITES,
        st.lists(st.tuples(st.sampled_from(["sig_s", "a.sig_q"]), VALUES), max_size=2),
    ),
    st.tuples(st.just("value"), SCALARS),
)
CALLS = st.one_of(
    st.tuples(st.just("prog"), st.lists(OPS, max_size=6), RETURNS),
    st.tuples(st.just("prog"), st.lists(OPS, max_size=6), RETURNS),
    st.tuples(st.just("put_a"), VALUES),
    st.tuples(
        st.just("put_ab"), VALUES, VALUES, st.sampled_from(["tuple", "last", "paths", "short"])
    ),
    st.tuples(st.just("glob"), NAMES, VALUES, st.sampled_from(["bare", "ctx", "paths"])),
    st.tuples(st.just("emit"), VALUES),
    st.tuples(st.just("peek")),
)
CONTEXTS = st.fixed_dictionaries(
    {"const_k": st.just(7)},
    optional={"a": VALUES, "b": VALUES, "c": st.just({"const_k": 0, "p": 1})},
).map(lambda domain: {"domain": domain, "global": {"g": 1}})

# -- running one program on both engines --------------------------------------------------


def kwargs_of(call: tuple[Any, ...]) -> tuple[str, dict[str, Any]]:
    name = call[0]
    if name == "prog":
        return name, {"ops": call[1], "ret": call[2]}
    if name in ("put_a", "emit"):
        return name, {"value": call[1]}
    if name == "put_ab":
        return name, {"a": call[1], "b": call[2], "form": call[3]}
    if name == "glob":
        return name, {"name": call[1], "value": call[2], "form": call[3]}
    return name, {}


class Side:
    """One engine and everything observed on it."""

    def __init__(
        self, context: Mapping[str, Any] | None, strict: bool, durable: Path | None = None
    ) -> None:
        if context is None:  # reopened from ``durable``
            self.engine = TheusEngine.open(durable, strict_mode=strict)
        else:
            self.engine = TheusEngine(copy.deepcopy(context), strict_mode=strict, durable=durable)
        for fn in PROCESSES:
            self.engine.register(fn)
        self.published: list[Any] = []
        self.engine.signals.on("*", lambda m: self.published.append((m.topic, canon(m.payload))))

    def observed(self) -> dict[str, Any]:
        engine = self.engine
        state = engine.state
        return {
            "state": canon(state.to_dict()),
            "version": state.version,
            "signals": canon(dict(state.signals)),
            "signal order": list(state.signals),
            "outbox": [(m.key, m.topic, canon(m.payload)) for m in engine.outbox.pending(1000)],
            "published": list(self.published),
            "history": [
                (
                    r.version,
                    r.requester,
                    canon(dict(r.changes)),
                    canon(engine.at(r.version).to_dict()),
                )
                for r in engine.history()
            ],
        }

    def call(self, call: tuple[Any, ...]) -> tuple[Any, list[Any]]:
        """Run one call; returns (its outcome, what the body observed)."""
        name, kwargs = kwargs_of(copy.deepcopy(call))
        seen: list[Any] = []
        if name == "prog":
            kwargs["seen"] = seen
        before = self.observed()
        try:
            result = self.engine.run(name, **kwargs)
        except Exception as exc:
            # a failing call leaves everything as it was (no half call, no phantom
            # message, no signal)
            assert self.observed() == before, f"{type(exc).__name__} left traces"
            return ("raised", type(exc), exc), seen
        return ("ok", canon(result)), seen


def deferred(outcome: tuple[Any, ...], seen: list[Any], call: tuple[Any, ...]) -> bool:
    """The strict call failed at a write that the state could not take (documented: fast
    mode checks it when the call commits, so it may fail later in the body)."""
    if outcome[0] != "raised" or not issubclass(outcome[1], InvalidPath | ZoneViolation):
        return False
    if (
        call[0] != "prog"
        or not seen
        or not isinstance(seen[-1], tuple)
        or seen[-1][0] != "raised at"
    ):
        return True  # raised while the return value was written
    op = call[1][seen[-1][1]]
    return op[0] in ("set", "setitem", "rw", "mutate", "copy", "del", "delattr")


def guarded(outcome: tuple[Any, ...]) -> bool:
    """Strict mode's guard refused a CONSTANT write or delete (documented: fast mode has no
    guards; its store refuses the write, or the delete of a missing path)."""
    exc = outcome[2] if outcome[0] == "raised" else None
    return isinstance(exc, ContractViolation) and "CONSTANT" in exc.reason


def no_caught_constant_deletes(call: tuple[Any, ...]) -> tuple[Any, ...]:
    """A caught ``del`` of a missing CONSTANT path: strict mode's guard refuses it (not a
    LookupError: the call fails) where fast mode reports it missing (caught): let it fail
    in both."""
    if call[0] != "prog":
        return call
    ops = [("del", op[1], False) if op[0] == "del" and "const_" in op[1] else op for op in call[1]]
    return ("prog", ops, call[2])


def check_program(context: Mapping[str, Any], calls: Sequence[tuple[Any, ...]]) -> None:
    strict, fast = Side(context, True), Side(context, False)
    try:
        compare(strict, fast, calls)
    finally:
        strict.engine.close()
        fast.engine.close()


def compare(strict: Side, other: Side, calls: Sequence[tuple[Any, ...]]) -> None:
    """Run ``calls`` on a strict in-memory engine and on ``other``, comparing after each."""
    assert other.observed() == strict.observed()
    for i, call in enumerate(map(no_caught_constant_deletes, calls)):
        s_out, s_seen = strict.call(call)
        f_out, f_seen = other.call(call)
        where = f"call {i}: {call!r}"
        if guarded(s_out) and not other.engine.strict_mode:
            assert f_out[0] == "raised", where
            assert f_out[1] in (ZoneViolation, PathNotFound), where
            assert f_seen == s_seen, where
        elif s_out[0] == "raised" and f_out[0] == "raised" and deferred(s_out, s_seen, call):
            pass  # both refused the call; fast mode may have noticed it later
        elif s_out[0] == "raised" or f_out[0] == "raised":
            assert s_out[:2] == f_out[:2], where
            assert f_seen == s_seen, where
        else:
            assert f_out == s_out, where
            assert f_seen == s_seen, where
        assert other.observed() == strict.observed(), where


CONTEXT_AND_CALLS = {"context": CONTEXTS, "calls": st.lists(CALLS, min_size=1, max_size=6)}
# a program that once failed fast mode's commit: writes below a path, then the path again
REORDER = ("prog", [("set", "a", {"p": 1}), ("setitem", "a.q", 2), ("set", "a", 3)], ("none",))


@settings(max_examples=200, deadline=None, database=None)
@example(context={"domain": {"a": 5}}, calls=[REORDER])
@given(**CONTEXT_AND_CALLS)
def test_fast_mode_agrees_with_strict_mode(
    context: dict[str, Any], calls: list[tuple[Any, ...]]
) -> None:
    check_program(context, calls)


@settings(max_examples=40, deadline=None, database=None)
@given(**CONTEXT_AND_CALLS, strict=st.booleans())
def test_a_durable_engine_agrees_and_reopens_as_it_was(
    context: dict[str, Any], calls: list[tuple[Any, ...]], strict: bool
) -> None:
    # the same programs on a durable engine (SQLite journal and outbox), strict or fast;
    # reopened from its file, it holds what it held (signals, outbox, history included)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "app.db"
        memory, durable = Side(context, True), Side(context, strict, durable=path)
        try:
            compare(memory, durable, calls)
            before = durable.observed()
        finally:
            memory.engine.close()
            durable.engine.close()
        again = Side(None, strict, durable=path)
        try:
            after = again.observed()
        finally:
            again.engine.close()
        del before["published"], after["published"]  # (a new hub)
        assert after == before


# -- fixed programs: each feature at least once, whatever the random draw ------------------


def test_fixed_program_covers_every_step_kind() -> None:
    ops = [
        ("set", "a", 1),
        ("rw", "b", 2),
        ("setitem", "c.p", [1, {"q": 2}]),
        ("item", "c.p"),
        ("has", "a"),
        ("has", "missing.p"),
        ("keys",),
        ("dict",),
        ("len",),
        ("mutate", "b", False),
        ("mutate", "d", True),
        ("copy", "d", "e"),
        ("set", "sig_s", {"n": 1}),
        ("setitem", "f", {"p": 1, "sig_q": 5}),
        ("del", "missing", True),
        ("delattr", "a"),
        ("outbox", "t1", {"x": [1]}, "k1"),
        ("outbox", "t2", 2, "k1"),  # the same key: a no-op
        ("outbox", "t2", 3, "k2"),
    ]
    calls = [
        ("prog", ops, ("none",)),
        ("prog", [("signal", "sig_s"), ("signal", "f.sig_q"), ("get", "sig_s")], ("none",)),
        ("prog", [("set", "a", 1), ("outbox", "t1", 1, "k3"), ("boom",)], ("none",)),
        ("prog", [("set", "a", 3)], ("paths", [("b", [1]), ("g.p", 1)])),
        ("prog", [], ("update", [("b", 1)], [("sig_s", 2), ("a.sig_q", 3)])),
        ("prog", [("outbox", "t1", 1, "k3")], ("value", 1)),
        ("prog", [("set", "a", 4), ("del", "missing", False)], ("none",)),
        ("put_a", {"p": 1}),
        ("put_ab", 1, 2, "tuple"),
        ("put_ab", 1, 2, "last"),
        ("put_ab", 1, 2, "short"),
        ("glob", "b", [3], "ctx"),
        ("glob", "b", [3], "bare"),
        ("glob", "const_k", 1, "paths"),
        ("emit", {"done": True}),
        ("peek",),
    ]
    check_program({"domain": {"const_k": 7, "a": 0, "c": {"const_k": 0, "p": 1}}}, calls)


def test_failing_calls_are_refused_in_both_modes() -> None:
    check_program(
        {"domain": {"const_k": 7, "a": 1, "c": {"const_k": 0, "p": 1}}},
        [
            # writes, an outbox message, a signal, then an exception
            ("prog", [("set", "b", 1), ("outbox", "t1", 1, "k1"), ("boom",)], ("none",)),
            ("prog", [("set", "sig_s", 1), ("del", "nope", False)], ("none",)),
            # the guard (strict) or the store (fast) refuses a CONSTANT write
            ("prog", [("set", "const_k", 1)], ("none",)),
            # refused by the state: strict mode at the write, fast mode at the commit
            ("prog", [("set", "c", 1), ("set", "b", 2)], ("none",)),
            ("prog", [("setitem", "a.p", 1), ("boom",)], ("none",)),
        ],
    )


def test_values_are_frozen_when_written_in_both_modes() -> None:
    for strict in (True, False):
        side = Side({"domain": {}}, strict)
        _, seen = side.call(("prog", [("mutate", "a", False), ("mutate", "b", True)], ("none",)))
        assert seen == [
            ("ok", ("seq", "FrozenList", [("int", 1)])),
            ("ok", ("map", "FrozenMap", {"p": ("int", 1)})),
        ]
        assert side.engine.state.to_dict()["domain"] == {"a": [1], "b": {"p": 1}}
        side.engine.close()


# -- CONSTANT fields inside mapping values ------------------------------------------------


@pytest.mark.parametrize("strict", [True, False])
def test_a_mapping_value_cannot_create_a_constant(strict: bool) -> None:
    # a dict, or a FrozenMap read from the context (copy of c)
    side = Side({"domain": {"c": {"const_k": 0, "p": 1}}}, strict)
    for ops in ([("set", "a", {"const_k": 0, "p": 1})], [("copy", "c", "a")]):
        outcome, _ = side.call(("prog", ops, ("none",)))
        assert outcome[:2] == ("raised", ZoneViolation)
    side.engine.close()


def test_mappings_with_a_constant_in_both_modes() -> None:
    check_program(
        {"domain": {"c": {"const_k": 0, "p": 1}}},
        [
            ("prog", [("set", "c", {"const_k": 0, "p": 2})], ("none",)),  # kept: allowed
            ("prog", [("set", "c", {"const_k": 1})], ("none",)),  # changed: refused
            ("prog", [("set", "c", {"p": 3})], ("none",)),  # dropped: refused
            ("prog", [("copy", "c", "c")], ("none",)),
            ("prog", [("delattr", "c")], ("none",)),
            ("glob", "c", {"const_k": 0}, "paths"),
        ],
    )


# -- minimal reproductions of fast-mode bugs found by the property (now fixed) -------------


def run_both(domain: dict[str, Any], ops: list[tuple[Any, ...]]) -> list[Any]:
    """Run one ``prog`` call on a strict and a fast engine: [(outcome, seen, observed)]."""
    results = []
    for strict in (True, False):
        side = Side({"domain": domain}, strict)
        outcome, seen = side.call(("prog", ops, ("none",)))
        results.append((outcome[:2], seen, side.observed()))
        side.engine.close()
    return results


def domain_of(observed: dict[str, Any]) -> Any:
    return observed["state"][2]["domain"][2]


def test_fast_bug_read_misses_a_later_write_below_it() -> None:
    # ctx.domain.a = {"p": 1}; ctx.domain["a.q"] = 2; ctx.domain.a
    # strict: {"p": 1, "q": 2}; fast mode gave: {"p": 1} (the committed state is right in both)
    strict, fast = run_both({}, [("set", "a", {"p": 1}), ("setitem", "a.q", 2), ("get", "a")])
    assert strict[1] == [("ok", ("map", "FrozenMap", {"p": ("int", 1), "q": ("int", 2)}))]
    assert fast == strict


def test_fast_bug_read_misses_the_signal_field_of_a_mapping_it_wrote() -> None:
    # ctx.domain.a = {"sig_q": 0}; ctx.domain.a
    # strict: {"sig_q": 0}; fast mode gave: {} (the sig_ field became its own pending entry)
    strict, fast = run_both({}, [("rw", "a", {"sig_q": 0})])
    assert strict[1] == [("ok", ("map", "FrozenMap", {"sig_q": ("int", 0)}))]
    assert fast == strict


def test_fast_bug_read_sees_a_write_replaced_by_a_later_write_above_it() -> None:
    # ctx.domain["a.q"] = 2; ctx.domain.a = {"p": 1}; ctx.domain["a.q"]
    # strict: missing (PathNotFound); fast mode gave: 2
    strict, fast = run_both({}, [("setitem", "a.q", 2), ("set", "a", {"p": 1}), ("item", "a.q")])
    assert strict[1] == [("missing", "PathNotFound")]
    assert fast == strict


def test_fast_bug_rewrite_after_a_write_below_fails_the_commit() -> None:
    # state a = 5; ctx.domain.a = {"p": 1}; ctx.domain["a.q"] = 2; ctx.domain.a = 3
    # strict: commits a = 3; fast mode gave: InvalidPath at commit ('domain.a' holds a int): the
    # pending entries are replayed as {a.q: 2, a: 3} over a = 5
    strict, fast = run_both(
        {"a": 5}, [("set", "a", {"p": 1}), ("setitem", "a.q", 2), ("set", "a", 3)]
    )
    assert strict[0] == ("ok", ("NoneType", None))
    assert domain_of(strict[2]) == {"a": ("int", 3)}
    assert fast == strict


def test_fast_bug_signal_of_a_replaced_mapping_is_emitted() -> None:
    # ctx.domain.a = {"sig_q": 1}; ctx.domain.a = {"p": 2}
    # strict: no signal (the second write replaced the first); fast mode gave: publishes
    # ("domain.a.sig_q", 1) and state.signals holds it
    strict, fast = run_both({}, [("set", "a", {"sig_q": 1}), ("set", "a", {"p": 2})])
    assert strict[2]["published"] == []
    assert fast == strict


def test_fast_bug_signal_field_holding_a_constant() -> None:
    # ctx.domain.a = {"sig_q": {"const_k": 0}}
    # strict: commits and publishes ("domain.a.sig_q", {"const_k": 0}) (the routed signal
    # value is not checked for constants); fast mode gave: ZoneViolation at commit -- the general
    # apply re-validates the frozen signal value, and since 10871fa a FrozenMap brings its
    # CONSTANT fields to the check. (Written directly, ctx.domain.sig_s = {"const_k": 0}
    # is refused in both modes.)
    strict, fast = run_both({}, [("set", "a", {"sig_q": {"const_k": 0}})])
    assert strict[0] == ("ok", ("NoneType", None))
    assert fast == strict


def test_fast_bug_keys_after_deleting_a_field_written_in_the_same_call() -> None:
    # ctx.domain.a = 1; del ctx.domain.a; ctx.domain.keys()
    # strict: [] ; fast mode gave: PathNotFound (the call fails)
    strict, fast = run_both({}, [("set", "a", 1), ("delattr", "a"), ("keys",)])
    assert strict[:2] == (("ok", ("NoneType", None)), [[]])
    assert fast == strict


def test_fast_bug_field_missing_after_deleting_another_new_field() -> None:
    # state a = {"q": 1}; ctx.domain.b = 1; del ctx.domain.b; ctx.domain["a.p"] = 2;
    # ctx.domain.a
    # strict: {"q": 1, "p": 2}; fast mode gave: AttributeError (missing): the read of ``a`` replays
    # the pending entries, and the pending delete of ``b`` (absent from the snapshot) raises
    strict, fast = run_both(
        {"a": {"q": 1}},
        [("set", "b", 1), ("delattr", "b"), ("setitem", "a.p", 2), ("get", "a")],
    )
    assert strict[1] == [("ok", ("map", "FrozenMap", {"q": ("int", 1), "p": ("int", 2)}))]
    assert fast == strict


def test_fast_bug_delete_after_a_nested_write_loses_the_created_mapping() -> None:
    # state {}; ctx.domain["a.p"] = 1; del ctx.domain["a.p"]
    # strict: a = {} (the set created the missing mapping ``a``; journaled as a write);
    # fast mode gave: no ``a`` -- the pending delete replaced the write, and the commit deletes
    # ``a.p`` from a state without ``a``
    strict, fast = run_both({}, [("setitem", "a.p", 1), ("del", "a.p", False)])
    assert domain_of(strict[2]) == {"a": ("map", "dict", {})}
    assert fast == strict


def test_fast_bug_write_below_a_scalar_then_deleted_is_committed() -> None:
    # state a = 0; ctx.domain["a.p"] = 1; del ctx.domain["a.p"]
    # strict: InvalidPath at the write (state unchanged); fast mode gave: commits a version with the
    # record {"domain.a.p": <deleted>} -- the check deferred to the commit never runs
    strict, fast = run_both({"a": 0}, [("setitem", "a.p", 1), ("del", "a.p", False)])
    assert strict[0] == ("raised", InvalidPath)
    assert fast == strict


# -- a strict-mode bug found by the property (theus-state, dbbda3a; now fixed) -------------


def test_strict_bug_created_signal_mapping_is_emitted() -> None:
    # state {}; ctx.domain["sig_s.p"] = []
    # fast (and strict before dbbda3a): publishes ("domain.sig_s.p", []) only; strict then
    # also published ("domain.sig_s", {}) first and state.signals holds it: the mapping the
    # write created on its way is recorded as a write of its own, and it is a SIGNAL path
    strict, fast = run_both({}, [("setitem", "sig_s.p", [])])
    assert fast[2]["published"] == [("domain.sig_s.p", ("seq", "FrozenList", []))]
    assert strict == fast
