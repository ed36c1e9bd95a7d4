"""Positions, resume and ``flux: wait`` (in memory; durable storage comes with the engine)."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from theus_flux import (
    FluxError,
    FluxLimitExceeded,
    FluxPaused,
    FluxRunner,
    FluxStepError,
    Position,
    RunState,
    Workflow,
)

S = RunState

CASES = [
    ("sequence.yaml", {}),
    ("if_then.yaml", {"domain": {"ok": True}}),
    ("nested_run.yaml", {}),
    ("while.yaml", {"domain": {"n": 3}}),
    ("nested_while.yaml", {"domain": {"i": 2, "j": 0}}),
    (
        "mixed.yaml",
        {
            "domain": {"is_valid": True, "items": [1], "items_left": 2},
            "global": {"mode": "slow"},
            "meta": {"retries": 0},
        },
    ),
]


@pytest.mark.parametrize(("name", "ctx0"), CASES, ids=[c[0] for c in CASES])
def test_resuming_from_any_reported_position_runs_exactly_the_rest(
    name: str, ctx0: dict[str, Any], fixtures: Path, script: Any
) -> None:
    workflow = Workflow.from_yaml(fixtures / "ordering" / name)
    ctx = copy.deepcopy(ctx0)
    checkpoints: list[tuple[Position, dict[str, Any]]] = []
    runner = FluxRunner(
        workflow,
        script(ctx),
        on_step_done=lambda pos: checkpoints.append((pos, copy.deepcopy(ctx))),
    )
    full = runner.run(ctx)
    final_ops = runner.position.ops if runner.position else 0
    assert len(checkpoints) == len(full)
    for index, (position, saved) in enumerate(checkpoints):
        # a resumed run sees the state as it was committed with that position
        state = copy.deepcopy(saved)
        restored = Position.from_dict(json.loads(json.dumps(position.to_dict())))
        assert restored == position
        other = FluxRunner(Workflow.from_yaml(fixtures / "ordering" / name), script(state))
        rest = other.run(state, resume_from=restored)
        assert full[: index + 1] + rest == full, position
        assert other.position is not None and other.position.ops == final_ops


def test_positions_carry_loop_counters(fixtures: Path, script: Any) -> None:
    workflow = Workflow.from_yaml(fixtures / "ordering" / "nested_while.yaml")
    ctx: dict[str, Any] = {"domain": {"i": 2, "j": 0}}
    positions: list[Position] = []
    FluxRunner(workflow, script(ctx), on_step_done=positions.append).run(ctx)
    assert [(p.step_path, p.loops) for p in positions] == [
        ("steps[0].do[0]", (1,)),
        ("steps[0].do[1].do[0]", (1, 1)),
        ("steps[0].do[1].do[1]", (1, 1)),
        ("steps[0].do[1].do[0]", (1, 2)),
        ("steps[0].do[1].do[1]", (1, 2)),
        ("steps[0].do[2]", (1,)),
        ("steps[0].do[0]", (2,)),
        ("steps[0].do[1].do[0]", (2, 1)),
        ("steps[0].do[1].do[1]", (2, 1)),
        ("steps[0].do[1].do[0]", (2, 2)),
        ("steps[0].do[1].do[1]", (2, 2)),
        ("steps[0].do[2]", (2,)),
        ("steps[1]", ()),
    ]
    assert all(p.workflow == workflow.fingerprint and not p.waiting for p in positions)
    assert [p.ops for p in positions] == sorted(p.ops for p in positions)


def test_step_position_is_the_position_being_committed(script: Any) -> None:
    text = "steps:\n  - a\n  - flux: while\n    condition: domain.n > 0\n    do: ['dec:n']\n"
    workflow = Workflow.from_yaml(text)
    ctx: dict[str, Any] = {"domain": {"n": 2}}
    during: list[Position | None] = []
    done: list[Position] = []
    inner = script(ctx)
    runner: FluxRunner

    def executor(name: str) -> None:
        during.append(runner.step_position)
        inner(name)

    runner = FluxRunner(workflow, executor, on_step_done=done.append)
    assert runner.step_position is None
    runner.run(ctx)
    assert during == done
    assert runner.step_position is None


WAIT = """
steps:
  - prepare
  - flux: wait
    until: "signal.get('domain.cmd_approve', False)"
  - publish
"""


def test_wait_pauses_and_resumes_once_the_condition_holds() -> None:
    workflow = Workflow.from_yaml(WAIT)
    seen: list[tuple[RunState, RunState, str | None]] = []
    runner = FluxRunner(workflow, lambda name: None)
    runner.add_observer(lambda old, new, path: seen.append((old, new, path)))
    ctx: dict[str, Any] = {"domain": {}, "signal": {}}
    with pytest.raises(FluxPaused) as info:
        runner.run(ctx)
    paused = info.value
    assert isinstance(paused, FluxError)
    assert paused.executed == ["prepare"]
    assert paused.position.step_path == "steps[1]" and paused.position.waiting
    assert paused.condition == "signal.get('domain.cmd_approve', False)"
    assert runner.state is S.PAUSED and runner.position == paused.position
    assert seen[-1] == (S.RUNNING, S.PAUSED, "steps[1]")

    # still not approved: pauses again at the same place, nothing re-runs
    calls: list[str] = []
    runner.executor = calls.append
    with pytest.raises(FluxPaused) as again:
        runner.run(ctx, resume_from=paused.position)
    assert again.value.position == paused.position and calls == []

    # approved, later, from another runner (another process would load the position)
    saved = json.dumps(paused.position.to_dict())
    other = FluxRunner(Workflow.from_yaml(WAIT), calls.append)
    ctx["signal"] = {"domain.cmd_approve": True}
    assert other.run(ctx, resume_from=Position.from_dict(json.loads(saved))) == ["publish"]
    assert other.state is S.COMPLETE
    assert other.position is not None and other.position.step_path == "steps[2]"


def test_a_true_wait_passes_and_reports_its_position() -> None:
    positions: list[Position] = []
    runner = FluxRunner(Workflow.from_yaml(WAIT), lambda n: None, on_step_done=positions.append)
    ctx = {"signal": {"domain.cmd_approve": True}}
    assert runner.run(ctx) == ["prepare", "publish"]
    assert [p.step_path for p in positions] == ["steps[0]", "steps[1]", "steps[2]"]
    assert not positions[1].waiting
    # resuming after the passed wait does not evaluate it again
    assert runner.run({"signal": {}}, resume_from=positions[1]) == ["publish"]


def test_wait_inside_a_loop_keeps_its_counters(script: Any) -> None:
    text = (
        "steps:\n  - flux: while\n    condition: domain.n > 0\n    do:\n"
        "      - 'dec:n'\n      - flux: wait\n        until: domain.go\n      - after\n"
    )
    workflow = Workflow.from_yaml(text)
    ctx: dict[str, Any] = {"domain": {"n": 2, "go": False}}
    runner = FluxRunner(workflow, script(ctx))
    with pytest.raises(FluxPaused) as info:
        runner.run(ctx)
    pos = info.value.position
    assert (pos.step_path, pos.loops, pos.waiting) == ("steps[0].do[1]", (1,), True)
    ctx["domain"]["go"] = True
    assert runner.run(ctx, resume_from=pos) == ["after", "dec:n", "after"]


def test_async_wait_pauses_arun() -> None:
    async def step(name: str) -> None:
        await asyncio.sleep(0)

    runner = FluxRunner(Workflow.from_yaml(WAIT), step)
    with pytest.raises(FluxPaused) as info:
        asyncio.run(runner.arun({"signal": {}}))
    assert runner.state is S.PAUSED
    resumed = asyncio.run(
        runner.arun({"signal": {"domain.cmd_approve": 1}}, resume_from=info.value.position)
    )
    assert resumed == ["publish"]


def test_failure_position_retries_the_failed_step() -> None:
    attempts: list[str] = []

    def flaky(name: str) -> None:
        attempts.append(name)
        if name == "flaky" and attempts.count("flaky") == 1:
            raise ConnectionError("try again")

    runner = FluxRunner(Workflow.from_yaml("steps: [a, b, flaky, c]"), flaky)
    with pytest.raises(FluxStepError) as info:
        runner.run({})
    assert info.value.position is not None
    assert info.value.position.step_path == "steps[1]"
    assert runner.position == info.value.position
    assert runner.run({}, resume_from=info.value.position) == ["flaky", "c"]
    assert attempts == ["a", "b", "flaky", "flaky", "c"]


def test_failure_before_any_step_keeps_the_resume_position() -> None:
    runner = FluxRunner(Workflow.from_yaml("steps: [a, fail, b]"), lambda n: None)
    start = Position("steps[0]", (), 1, False, runner.workflow.fingerprint)

    def fail(name: str) -> None:
        raise RuntimeError(name)

    runner.executor = fail
    with pytest.raises(FluxStepError) as info:
        runner.run({}, resume_from=start)
    assert info.value.position == start


def test_ops_budget_continues_across_resume() -> None:
    workflow = Workflow.from_yaml(WAIT + "  - more\n  - more2\n")
    runner = FluxRunner(workflow, lambda n: None, max_ops=4)
    with pytest.raises(FluxPaused) as info:
        runner.run({"signal": {}})
    assert info.value.position.ops == 1
    ctx = {"signal": {"domain.cmd_approve": True}}
    with pytest.raises(FluxLimitExceeded) as limit:
        runner.run(ctx, resume_from=info.value.position)  # wait + publish + more = 4, more2 = 5
    assert limit.value.step_path == "steps[4]"


def test_bad_resume_positions_are_refused(script: Any) -> None:
    text = "steps:\n  - a\n  - flux: while\n    condition: 'True'\n    do: [b]\n"
    workflow = Workflow.from_yaml(text)
    runner = FluxRunner(workflow, lambda n: None)
    fp = workflow.fingerprint
    cases = [
        (Position("steps[0]", (), 1, False, "0123456789abcdef"), "another|changed"),
        (Position("steps[7]", (), 1, False, fp), "no process"),
        (Position("steps[1]", (), 1, False, fp), "no process"),
        (Position("steps[0]", (), 1, True, fp), "not a wait step"),
        (Position("steps[1].do[0]", (), 1, False, fp), "loop"),
        (Position("steps[0]", (1,), 1, False, fp), "loop"),
    ]
    for position, fragment in cases:
        with pytest.raises(FluxError, match=fragment):
            runner.run({}, resume_from=position)
        assert runner.state is S.PENDING  # refused before the run started
    with pytest.raises(TypeError):
        runner.run({}, resume_from={"step_path": "steps[0]"})  # type: ignore[arg-type]
    # an unfingerprinted position is accepted
    done = FluxRunner(Workflow.from_yaml("steps: [a, b]"), lambda n: None)
    assert done.run({}, resume_from=Position("steps[0]")) == ["b"]


def test_position_serialisation() -> None:
    pos = Position("steps[2].do[0]", (3,), 9, False, "abc")
    assert Position.from_dict(pos.to_dict()) == pos
    assert json.loads(json.dumps(pos.to_dict()))["loops"] == [3]
    for bad in (
        {},
        {"step_path": 1},
        {"step_path": "s", "loops": [-1]},
        {"step_path": "s", "loops": ["1"]},
        {"step_path": "s", "ops": -1},
        {"step_path": "s", "waiting": "yes"},
        {"step_path": "s", "loops": 5},
        [],
    ):
        with pytest.raises(ValueError, match="not a flux position"):
            Position.from_dict(bad)  # type: ignore[arg-type]


def test_a_failing_on_step_done_fails_the_run() -> None:
    def store(position: Position) -> None:
        if position.step_path == "steps[1]":
            raise OSError("disk full")

    runner = FluxRunner(Workflow.from_yaml("steps: [a, b, c]"), lambda n: None, on_step_done=store)
    with pytest.raises(OSError, match="disk full"):
        runner.run({})
    assert runner.state is S.FAILED
    assert runner.position is not None and runner.position.step_path == "steps[1]"


def test_paused_pickles() -> None:
    import pickle

    err = FluxPaused(Position("steps[1]", (), 1, True, "x"), "domain.go", ["a"])
    clone = pickle.loads(pickle.dumps(err))
    assert clone.position == err.position and clone.executed == ["a"]
