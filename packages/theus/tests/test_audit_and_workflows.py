"""Audit levels through the engine, and Flux workflows over the live state."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from theus import TheusEngine, process
from theus_audit import AuditAbortError, AuditBlockError, AuditRecipe, AuditStopError
from theus_flux import (
    FluxLimitExceeded,
    FluxPaused,
    FluxStepError,
    InvalidWorkflow,
    StepKind,
    Workflow,
)
from theus_flux import hookimpl as flux_hookimpl
from theus_signals import OutboxMessage


@process(inputs=["domain.balance"], outputs=["domain.balance", "domain.sig_paid"])
def pay(ctx, amount: int):  # type: ignore[no-untyped-def]
    ctx.outbox.add(OutboxMessage("payment", amount))
    ctx.domain.sig_paid = amount
    return {"balance": ctx.domain.balance - amount}


RECIPE = {
    "level": "A",
    "processes": {
        "pay": {
            "inputs": [
                {"field": "amount", "min": 1, "max": 100},
                {"field": "balance", "min": 0, "level": "C"},
            ],
            "outputs": [{"field": "balance", "min": 0}],
        }
    },
}


def make(recipe: Any = RECIPE) -> TheusEngine:
    e = TheusEngine({"domain": {"balance": 150}}, audit=recipe)
    e.register(pay)
    return e


def test_input_rule_aborts_before_the_body() -> None:
    e = make()
    with pytest.raises(AuditAbortError) as info:
        e.run("pay", amount=500)
    assert "amount" in " ".join(info.value.decision.reasons)
    assert e.state.version == 0 and len(e.outbox) == 0


def test_output_rule_checks_the_values_about_to_be_committed() -> None:
    e = make()
    e.run("pay", amount=100)
    assert e.state.get("domain.balance") == 50
    with pytest.raises(AuditAbortError, match="balance"):
        e.run("pay", amount=60)  # would commit balance -10
    assert e.state.get("domain.balance") == 50
    assert len(e.outbox) == 1  # only the committed run's message


def test_stop_level_halts_the_engine_until_reset() -> None:
    recipe = {"processes": {"pay": {"inputs": [{"field": "amount", "max": 10, "level": "S"}]}}}
    e = make(recipe)

    @process(outputs=["domain.other"])
    def other(ctx):  # type: ignore[no-untyped-def]
        return 1

    e.register(other)
    with pytest.raises(AuditStopError):
        e.run("pay", amount=11)
    with pytest.raises(AuditStopError):
        e.run("other")  # every run is refused while stopped
    e.audit.reset()
    assert e.run("other") == 1


def test_block_level_counts_body_failures_per_threshold(tmp_path: Path) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text("level: B\nthreshold_max: 2\nprocesses:\n  flaky:\n    inputs: []\n")
    e = TheusEngine({"domain": {"n": 0}}, audit=str(path))

    @process(outputs=["domain.n"])
    def flaky(ctx):  # type: ignore[no-untyped-def]
        raise ConnectionError("down")

    e.register(flaky)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            e.run("flaky")
    with pytest.raises(AuditBlockError):
        e.run("flaky")  # blocked after exceeding threshold_max
    e.audit.reset()
    with pytest.raises(ConnectionError):
        e.run("flaky")


def test_audit_accepts_recipe_objects_and_rejects_bad_types(tmp_path: Path) -> None:
    e = TheusEngine(audit=AuditRecipe.from_dict(RECIPE))
    assert "pay" in e.audit.recipe.processes
    with pytest.raises(TypeError):
        TheusEngine(audit=42)
    bad = tmp_path / "bad.yaml"
    bad.write_text("processes:\n  pay:\n    inputs:\n      - {field: amount, mni: 1}\n")
    with pytest.raises(Exception, match="bad.yaml:4"):
        TheusEngine(audit=bad)


WORKFLOW = """
name: pay-down
steps:
  - flux: while
    condition: "domain.balance >= 50"
    do: [pay_fifty]
  - flux: if
    condition: "signal.get('domain.sig_paid') == 50"
    then: [mark]
    else: [fail]
"""


@process(inputs=["domain.balance"], outputs=["domain.balance", "domain.sig_paid"])
def pay_fifty(ctx):  # type: ignore[no-untyped-def]
    ctx.domain.sig_paid = 50
    return {"balance": ctx.domain.balance - 50}


@process(outputs=["domain.done"])
def mark(ctx):  # type: ignore[no-untyped-def]
    return True


@process(outputs=["domain.done"])
def fail(ctx):  # type: ignore[no-untyped-def]
    return False


def wf_engine() -> TheusEngine:
    e = TheusEngine({"domain": {"balance": 170, "done": None}})
    for fn in (pay_fifty, mark, fail):
        e.register(fn)
    return e


def test_workflow_conditions_read_the_live_state(tmp_path: Path) -> None:
    e = wf_engine()
    assert e.run_workflow(WORKFLOW) == ["pay_fifty"] * 3 + ["mark"]
    assert e.state.get("domain.balance") == 20
    assert e.state.get("domain.done") is True
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    e2 = wf_engine()
    assert asyncio.run(e2.execute_workflow(str(path))) == ["pay_fifty"] * 3 + ["mark"]


def test_workflow_errors() -> None:
    e = wf_engine()
    with pytest.raises(InvalidWorkflow, match="<string>:3"):
        e.run_workflow("steps:\n  - flux: if\n    condition: \"__import__('os')\"\n    then: [a]\n")
    with pytest.raises(FluxLimitExceeded):
        e.run_workflow(
            "steps:\n  - flux: while\n    condition: 'True'\n    do: [mark]\n", max_ops=20
        )
    with pytest.raises(FluxStepError) as info:
        e.run_workflow("steps:\n  - mark\n  - missing_process\n")
    assert info.value.step_path == "steps[1]"


class TwiceKind:
    """A plugin with a custom ``flux: twice`` step kind (runs its target twice)."""

    @flux_hookimpl
    def flux_step_kinds(self) -> list[StepKind]:
        def run(ctx: Any, config: Any, executor: Any) -> None:
            executor(config["target"])
            executor(config["target"])

        return [StepKind("twice", run, keys=("target",), required=("target",))]


TWICE = "steps:\n  - flux: twice\n    target: mark_count\n"


@process(inputs=["domain.n"], outputs=["domain.n"])
def mark_count(ctx: Any) -> None:
    ctx.domain.n = ctx.domain.n + 1


def test_custom_step_kinds_of_the_engine_plugins_load_and_resume(tmp_path: Path) -> None:
    # a plugin given to the engine defines a step kind: the engine's workflows know it,
    # also when a durable run is resumed from its stored text
    with pytest.raises(InvalidWorkflow, match="unknown step kind 'twice'"):
        TheusEngine({"domain": {"n": 0}}).run_workflow(TWICE)  # no such plugin
    e = TheusEngine({"domain": {"n": 0}}, plugins=[TwiceKind()])
    e.register(mark_count)
    e.run_workflow(TWICE)
    assert e.state.get("domain.n") == 2
    db = tmp_path / "app.db"
    wait_then_twice = (
        "steps:\n  - flux: wait\n    until: 'signal.get(\"domain.cmd_go\")'\n" + TWICE[7:]
    )
    with TheusEngine({"domain": {"n": 0}}, durable=db, plugins=[TwiceKind()]) as durable:
        durable.register(mark_count)
        with pytest.raises(FluxPaused):
            durable.run_workflow(wait_then_twice, run_id="r")
    with TheusEngine.open(db, plugins=[TwiceKind()]) as durable:
        durable.register(mark_count)
        durable.resume_workflow("r", cmd_go=True)
        assert durable.state.get("domain.n") == 2


def test_workflow_text_is_parsed_once_per_engine_and_files_are_reread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real = Workflow.from_yaml

    def counting(src: Any, **kw: Any) -> Workflow:
        parsed.append(str(src))
        return real(src, **kw)

    monkeypatch.setattr(Workflow, "from_yaml", counting)
    e = TheusEngine({"domain": {"n": 0}})
    e.register(mark_count)
    for _ in range(3):
        e.run_workflow("steps: [mark_count]\n")
    assert len(parsed) == 1 and e.state.get("domain.n") == 3
    path = tmp_path / "wf.yaml"
    path.write_text("steps: [mark_count]\n")
    e.run_workflow(path)
    e.run_workflow(str(path))
    assert len(parsed) == 3  # by path object and by name: each read, parsed once
    e.run_workflow(path)
    assert len(parsed) == 3
    path.write_text("steps: [mark_count, mark_count]\n")  # changed on disk: read again
    assert e.run_workflow(path) == ["mark_count", "mark_count"]
    path.write_text("steps:\n  - flux: nope\n")
    for _ in range(2):  # a bad file is never cached: the error names it each time
        with pytest.raises(InvalidWorkflow, match=r"wf\.yaml:2"):
            e.run_workflow(path)
    assert e.state.get("domain.n") == 8
