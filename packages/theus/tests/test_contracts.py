"""The contract matrix: read/write x declared/undeclared x PURE/EFFECT/GUIDE x strict on/off."""

from __future__ import annotations

from typing import Any

import pytest

from theus import ContractViolation, InvalidProcess, SemanticType, TheusEngine, process
from theus_signals import OutboxMessage

P, E, G = SemanticType.PURE, SemanticType.EFFECT, SemanticType.GUIDE


def context() -> dict[str, Any]:
    return {
        "domain": {
            "a": 1,
            "b": 2,
            "user": {"name": "ann", "age": 30},
            "meta_runs": 0,
            "const_id": 7,
        },
        "global": {"rate": 3},
    }


def run(fn: Any, strict: bool = True, **kwargs: Any) -> tuple[TheusEngine, Any]:
    engine = TheusEngine(context(), strict_mode=strict)
    engine.register(fn)
    return engine, engine.run(fn, **kwargs)


# -- reads ---------------------------------------------------------------------------------
@pytest.mark.parametrize("semantic", [P, E, G])
@pytest.mark.parametrize("strict", [True, False])
def test_declared_read_is_allowed(semantic: SemanticType, strict: bool) -> None:
    @process(inputs=["domain.a", "global.rate"], semantic=semantic)
    def reader(ctx):  # type: ignore[no-untyped-def]
        return ctx.domain.a + ctx.global_.rate + ctx.global_ctx["rate"]

    assert run(reader, strict)[1] == 7


@pytest.mark.parametrize("semantic", [P, E, G])
def test_undeclared_read_is_refused_in_strict_mode(semantic: SemanticType) -> None:
    @process(inputs=["domain.a"], semantic=semantic)
    def reader(ctx):  # type: ignore[no-untyped-def]
        return ctx.domain.b

    with pytest.raises(ContractViolation) as info:
        run(reader)
    err = info.value
    assert isinstance(err, PermissionError)
    assert (err.process, err.path, err.access) == ("reader", "domain.b", "read")
    assert "not declared" in str(err)


@pytest.mark.parametrize("semantic", [P, E, G])
def test_undeclared_read_is_allowed_without_strict_mode(semantic: SemanticType) -> None:
    @process(inputs=["domain.a"], semantic=semantic)
    def reader(ctx):  # type: ignore[no-untyped-def]
        return ctx.domain.b

    assert run(reader, strict=False)[1] == 2


def test_partial_declaration_gives_navigation_views_only() -> None:
    @process(inputs=["domain.user.name"])
    def reader(ctx):  # type: ignore[no-untyped-def]
        name = ctx.domain.user.name
        try:
            _ = ctx.domain.user.age
        except ContractViolation as exc:
            return name, exc.path
        return name, None

    assert run(reader)[1] == ("ann", "domain.user.age")

    @process(inputs=["domain.user.name"])
    def lister(ctx):  # type: ignore[no-untyped-def]
        return dict(ctx.domain.user)

    with pytest.raises(ContractViolation, match="whole path"):
        run(lister)


def test_glob_inputs_cover_their_subtree_and_outputs_are_readable() -> None:
    @process(inputs=["domain.user.*"], outputs=["domain.a"])
    def reader(ctx):  # type: ignore[no-untyped-def]
        return ctx.domain.user.name, ctx.domain.user["age"], ctx.domain.a

    assert run(reader)[1] == ("ann", 30, 1)


# -- writes --------------------------------------------------------------------------------
@pytest.mark.parametrize("semantic", [E, G])
@pytest.mark.parametrize("strict", [True, False])
def test_declared_write_is_committed(semantic: SemanticType, strict: bool) -> None:
    @process(inputs=["domain.a"], outputs=["domain.b"], semantic=semantic)
    def writer(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.b = ctx.domain.a + 10

    engine, _ = run(writer, strict)
    assert engine.state.get("domain.b") == 11
    assert engine.state.version == 1


@pytest.mark.parametrize("semantic", [E, G])
def test_undeclared_write_is_refused_and_nothing_commits(semantic: SemanticType) -> None:
    @process(inputs=["domain.a"], outputs=["domain.b"], semantic=semantic)
    def writer(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.b = 5
        ctx.domain.a = 9

    engine = TheusEngine(context())
    with pytest.raises(ContractViolation) as info:
        engine.run(engine.register(writer).fn)
    assert (info.value.path, info.value.access) == ("domain.a", "write")
    assert engine.state.version == 0
    assert engine.state.get("domain.b") == 2


def test_undeclared_write_is_allowed_without_strict_mode() -> None:
    @process(outputs=["domain.b"])
    def writer(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.a = 100

    engine, _ = run(writer, strict=False)
    assert engine.state.get("domain.a") == 100


def test_pure_cannot_write_emit_or_use_outbox() -> None:
    @process(inputs=["domain.a"], semantic="pure")
    def writer(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.a = 2

    with pytest.raises(ContractViolation, match="PURE process cannot write"):
        run(writer)

    @process(inputs=["domain.a"], semantic="pure")
    def mailer(ctx):  # type: ignore[no-untyped-def]
        ctx.outbox.add(OutboxMessage("t"))

    with pytest.raises(ContractViolation, match="outbox"):
        run(mailer)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outputs": ["domain.a"], "semantic": "pure"}, "PURE process cannot declare outputs"),
        ({"inputs": ["domain.sig_go"], "semantic": "pure"}, "cannot read SIGNAL"),
        ({"inputs": ["domain.meta_runs"], "semantic": "pure"}, "only GUIDE"),
        ({"inputs": ["domain.meta_runs"]}, "only GUIDE processes may read META"),
        ({"outputs": ["domain.meta_runs"]}, "only GUIDE processes may write META"),
        ({"outputs": ["domain.const_id"]}, "CONSTANT"),
        ({"inputs": ["domian.a"]}, "unknown layer 'domian'"),
        ({"inputs": ["domain..a"]}, "empty segment"),
        ({"inputs": "domain.a"}, "must be a list of paths"),
        ({"semantic": "sideways"}, "unknown semantic"),
    ],
)
def test_bad_declarations_are_refused_at_definition(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidProcess, match=message) as info:

        @process(**kwargs)
        def proc(ctx):  # type: ignore[no-untyped-def]
            return None

    assert info.value.process == "proc"


def test_meta_is_guide_only_even_through_globs() -> None:
    @process(inputs=["domain.*"], outputs=["domain.*"])
    def effect(ctx):  # type: ignore[no-untyped-def]
        return ctx.domain.meta_runs

    with pytest.raises(ContractViolation, match="META is reserved"):
        run(effect)

    @process(inputs=["domain.*"], outputs=["domain.*"])
    def effect_meta(ctx):  # type: ignore[no-untyped-def]
        return ctx.meta

    with pytest.raises(ContractViolation, match="META"):
        run(effect_meta)

    @process(inputs=["domain.meta_runs"], outputs=["domain.meta_runs"], semantic="guide")
    def guide(ctx):  # type: ignore[no-untyped-def]
        ctx.meta["domain.meta_runs"] = ctx.domain.meta_runs + 1
        return ctx.meta.meta_runs

    engine, result = run(guide)
    assert result == 1
    assert engine.state.get("domain.meta_runs") == 1


def test_constants_cannot_be_written_even_through_globs() -> None:
    @process(outputs=["domain.*"])
    def writer(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.const_id = 8

    with pytest.raises(ContractViolation, match="CONSTANT"):
        run(writer)


@pytest.mark.parametrize("strict", [True, False])
def test_private_names_are_blocked(strict: bool) -> None:
    @process(inputs=["domain.a"])
    def sneaky(ctx):  # type: ignore[no-untyped-def]
        return ctx._run

    with pytest.raises(ContractViolation, match="private"):
        run(sneaky, strict)

    @process(inputs=["domain.a"])
    def sneaky_view(ctx):  # type: ignore[no-untyped-def]
        return ctx.domain._run

    with pytest.raises(ContractViolation, match="private"):
        run(sneaky_view, strict)

    @process(inputs=["domain.a"])
    def setter(ctx):  # type: ignore[no-untyped-def]
        ctx.anything = 1

    with pytest.raises(ContractViolation):
        run(setter, strict)


def test_values_handed_to_a_process_cannot_be_mutated_into_state() -> None:
    engine = TheusEngine({"domain": {"items": [1, 2], "cfg": {"k": 1}}})

    @process(inputs=["domain.items", "domain.cfg"], outputs=["domain.items"])
    def mutate(ctx):  # type: ignore[no-untyped-def]
        items = ctx.domain.items
        try:
            items.append(3)
        except TypeError:
            pass
        try:
            ctx.domain.cfg["k"] = 2  # the FrozenMap refuses; the view would need outputs
        except (TypeError, ContractViolation):
            pass
        return [*items, 4]

    engine.register(mutate)
    engine.run(mutate)
    assert engine.state.to_dict()["domain"] == {"items": [1, 2, 4], "cfg": {"k": 1}}


def test_signal_inputs_for_effect_processes() -> None:
    engine = TheusEngine({"domain": {"n": 0}})

    @process(outputs=["domain.cmd_go"])
    def emit(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.cmd_go = "now"

    @process(inputs=["domain.cmd_go"], outputs=["domain.n"])
    def consume(ctx):  # type: ignore[no-untyped-def]
        return 1 if ctx.signal.get("domain.cmd_go") == "now" else -1

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def peek(ctx):  # type: ignore[no-untyped-def]
        return ctx.signal["domain.cmd_go"]

    for fn in (emit, consume, peek):
        engine.register(fn)
    engine.run(emit)
    engine.run(consume)
    assert engine.state.get("domain.n") == 1
    with pytest.raises(ContractViolation):
        engine.run(peek)
