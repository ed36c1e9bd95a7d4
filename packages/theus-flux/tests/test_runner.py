from __future__ import annotations

import copy
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from theus_flux import (
    DEFAULT_MAX_OPS,
    TRANSITIONS,
    FluxError,
    FluxLimitExceeded,
    FluxRunner,
    FluxStepError,
    RunState,
    Workflow,
)
from theus_flux._fsm import StateMachine

S = RunState


def _cases() -> list[dict[str, Any]]:
    path = Path(__file__).parent / "fixtures" / "ordering" / "cases.yaml"
    return list(yaml.safe_load(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['workflow']}-{len(c['expected'])}")
def test_ordering(case: dict[str, Any], fixtures: Path, script: Any) -> None:
    workflow = Workflow.from_yaml(fixtures / "ordering" / case["workflow"])
    ctx = copy.deepcopy(case["ctx"])
    executor = script(ctx)
    runner = FluxRunner(workflow, executor)
    executed = runner.run(ctx)
    assert executed == case["expected"]
    assert executor.calls == case["expected"]
    assert runner.state is S.COMPLETE and runner.error is None


def wf(text: str) -> Workflow:
    return Workflow.from_yaml(text)


LOOP_FOREVER = "steps:\n  - flux: while\n    condition: 'True'\n    do: [a]\n"
EMPTY_DO = "steps:\n  - start\n  - flux: while\n    condition: domain.go\n    do: []\n"


def test_infinite_loop_trips_the_limit() -> None:
    calls: list[str] = []
    runner = FluxRunner(wf(LOOP_FOREVER), calls.append, max_ops=50)
    with pytest.raises(FluxLimitExceeded) as info:
        runner.run({})
    err = info.value
    assert err.max_ops == 50 and isinstance(err, FluxError)
    assert err.step_path in ("steps[0]", "steps[0].do[0]")
    assert len(calls) == 24  # 1 (while) + 24 iterations + 24 steps = 49; the 25th test trips
    assert runner.state is S.FAILED and runner.error is err
    assert "max_ops=50" in str(err)


def test_empty_do_trips_the_limit_instead_of_hanging() -> None:
    runner = FluxRunner(wf(EMPTY_DO), lambda name: None, max_ops=100)
    with pytest.raises(FluxLimitExceeded) as info:
        runner.run({"domain": {"go": True}})
    assert info.value.step_path == "steps[1]"
    assert runner.run({"domain": {"go": False}}) == ["start"]  # a false loop is fine


@pytest.mark.parametrize(("max_ops", "ok"), [(3, True), (2, False)])
def test_every_step_counts(max_ops: int, ok: bool) -> None:
    runner = FluxRunner(wf("steps: [a, b, c]"), lambda name: None, max_ops=max_ops)
    if ok:
        assert runner.run({}) == ["a", "b", "c"]
    else:
        with pytest.raises(FluxLimitExceeded) as info:
            runner.run({})
        assert info.value.step_path == "steps[2]"


@pytest.mark.parametrize(("max_ops", "ok"), [(5, True), (4, False)])
def test_loop_iterations_count(max_ops: int, ok: bool, script: Any) -> None:
    # 1 (while) + 2 iterations + 2 body steps = 5 operations
    text = "steps:\n  - flux: while\n    condition: domain.n > 0\n    do: ['dec:n']\n"
    ctx: dict[str, Any] = {"domain": {"n": 2}}
    runner = FluxRunner(wf(text), script(ctx), max_ops=max_ops)
    if ok:
        runner.run(ctx)
        assert runner.position is not None and runner.position.ops == 5
    else:
        with pytest.raises(FluxLimitExceeded):
            runner.run(ctx)


def test_structural_steps_count() -> None:
    text = (
        "steps:\n  - flux: run\n    steps:\n      - flux: if\n        condition: 'True'\n"
        "        then: [a]\n"
    )
    assert FluxRunner(wf(text), lambda n: None, max_ops=3).run({}) == ["a"]
    with pytest.raises(FluxLimitExceeded):
        FluxRunner(wf(text), lambda n: None, max_ops=2).run({})


def test_limit_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert FluxRunner(wf(LOOP_FOREVER), lambda n: None).max_ops == DEFAULT_MAX_OPS == 10_000
    monkeypatch.setenv("THEUS_MAX_LOOPS", "7")
    runner = FluxRunner(wf(LOOP_FOREVER), lambda n: None)
    assert runner.max_ops == 7
    with pytest.raises(FluxLimitExceeded) as info:
        runner.run({})
    assert info.value.max_ops == 7
    assert FluxRunner(wf(LOOP_FOREVER), lambda n: None, max_ops=20).max_ops == 20  # arg wins
    monkeypatch.setenv("THEUS_MAX_LOOPS", " ")
    assert FluxRunner(wf(LOOP_FOREVER), lambda n: None).max_ops == 10_000


def test_default_limit_trips_a_runaway_loop() -> None:
    calls: list[str] = []
    with pytest.raises(FluxLimitExceeded) as info:
        FluxRunner(wf(LOOP_FOREVER), calls.append).run({})
    assert info.value.max_ops == 10_000 and len(calls) == 4999


@pytest.mark.parametrize("bad", ["abc", "0", "-5", "1.5"])
def test_bad_environment_limit(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("THEUS_MAX_LOOPS", bad)
    with pytest.raises(ValueError, match="THEUS_MAX_LOOPS"):
        FluxRunner(wf(LOOP_FOREVER), lambda n: None)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_bad_limit_argument(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_ops"):
        FluxRunner(wf(LOOP_FOREVER), lambda n: None, max_ops=bad)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(TypeError):
        FluxRunner("steps: [a]", lambda n: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FluxRunner(wf("steps: [a]"), None)  # type: ignore[arg-type]


NESTED = """
steps:
  - a
  - flux: if
    condition: domain.left
    then: [b]
    else: [c, "fail"]
  - flux: while
    condition: domain.n > 0
    do: ["dec:n", "fail"]
  - flux: run
    steps: ["fail"]
"""


@pytest.mark.parametrize(
    ("domain", "path"),
    [
        ({"left": False, "n": 0}, "steps[1].else[1]"),
        ({"left": True, "n": 1}, "steps[2].do[1]"),
        ({"left": True, "n": 0}, "steps[3].steps[0]"),
    ],
)
def test_step_errors_carry_the_step_path(domain: dict[str, Any], path: str, script: Any) -> None:
    ctx = {"domain": dict(domain)}
    runner = FluxRunner(wf(NESTED), script(ctx))
    with pytest.raises(FluxStepError) as info:
        runner.run(ctx)
    err = info.value
    assert err.step_path == path and err.step_name == "fail"
    assert isinstance(err.__cause__, RuntimeError) and "boom" in str(err.__cause__)
    assert str(err).startswith(f"{path}: step 'fail' failed")
    assert runner.state is S.FAILED and runner.error is err


def test_observers_see_every_transition() -> None:
    seen: list[tuple[RunState, RunState, str | None]] = []
    runner = FluxRunner(wf("steps: [a, fail]"), lambda n: None)
    runner.add_observer(lambda old, new, path: seen.append((old, new, path)))
    assert runner.state is S.PENDING
    runner.run({})
    assert seen == [(S.PENDING, S.RUNNING, None), (S.RUNNING, S.COMPLETE, None)]

    def failing(name: str) -> None:
        if name == "fail":
            raise ValueError(name)

    seen.clear()
    runner.executor = failing
    with pytest.raises(FluxStepError):
        runner.run({})
    assert seen == [
        (S.COMPLETE, S.PENDING, None),
        (S.PENDING, S.RUNNING, None),
        (S.RUNNING, S.FAILED, "steps[1]"),
    ]
    seen.clear()
    runner.executor = lambda n: None
    assert runner.run({}) == ["a", "fail"]  # reusable after a failure
    assert seen[0] == (S.FAILED, S.PENDING, None) and runner.error is None
    for old, new, _ in seen:
        assert new in TRANSITIONS[old]


def test_observer_errors_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    runner = FluxRunner(wf("steps: [a]"), lambda n: None)
    calls: list[RunState] = []

    def bad(old: RunState, new: RunState, path: str | None) -> None:
        raise RuntimeError("observer bug")

    runner.add_observer(bad)
    remove = runner.add_observer(lambda old, new, path: calls.append(new))
    with caplog.at_level(logging.ERROR, logger="theus_flux._fsm"):
        assert runner.run({}) == ["a"]
    assert calls == [S.RUNNING, S.COMPLETE]
    assert "observer bug" in caplog.text
    remove()
    remove()  # idempotent
    runner.run({})
    assert calls == [S.RUNNING, S.COMPLETE]


def test_transition_table_is_enforced() -> None:
    fsm = StateMachine()
    with pytest.raises(FluxError, match="invalid run state transition"):
        fsm.transition(S.COMPLETE)
    fsm.transition(S.RUNNING)
    fsm.transition(S.WAITING_IO)
    with pytest.raises(FluxError):
        fsm.transition(S.COMPLETE)
    fsm.transition(S.FAILED)
    assert fsm.state is S.FAILED
    assert set(TRANSITIONS) == set(RunState)
    assert TRANSITIONS[S.PENDING] == {S.RUNNING, S.FAILED}
    assert TRANSITIONS[S.WAITING_IO] == {S.RUNNING, S.FAILED}


def test_one_run_at_a_time_per_runner() -> None:
    entered = threading.Event()
    release = threading.Event()

    def slow(name: str) -> None:
        entered.set()
        assert release.wait(10)

    runner = FluxRunner(wf("steps: [a, b]"), slow)
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(runner.run({})))
    thread.start()
    assert entered.wait(10)
    with pytest.raises(FluxError, match="already running"):
        runner.run({})
    assert runner.state is S.RUNNING
    release.set()
    thread.join(10)
    assert results == [["a", "b"]] and runner.state is S.COMPLETE


def test_separate_runners_run_in_parallel_threads(script: Any) -> None:
    workflow = wf("steps:\n  - flux: while\n    condition: domain.n > 0\n    do: ['dec:n']\n")
    results: dict[int, list[str]] = {}

    def work(i: int) -> None:
        ctx: dict[str, Any] = {"domain": {"n": i}}
        results[i] = FluxRunner(workflow, script(ctx)).run(ctx)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert {i: len(r) for i, r in results.items()} == {i: i for i in range(8)}


def test_context_is_read_live_at_each_condition() -> None:
    class Ctx:
        def __init__(self) -> None:
            self.domain = {"n": 3}

    ctx = Ctx()

    def step(name: str) -> None:
        ctx.domain = {"n": ctx.domain["n"] - 1}  # replace, not mutate

    text = "steps:\n  - flux: while\n    condition: domain.n > 0\n    do: [x]\n"
    assert FluxRunner(wf(text), step).run(ctx) == ["x", "x", "x"]


def test_empty_workflow_runs() -> None:
    runner = FluxRunner(wf("steps: []"), lambda n: None)
    assert runner.run({}) == [] and runner.state is S.COMPLETE and runner.position is None


def test_keyboard_interrupt_fails_the_run() -> None:
    def interrupt(name: str) -> None:
        raise KeyboardInterrupt

    runner = FluxRunner(wf("steps: [a]"), interrupt)
    with pytest.raises(KeyboardInterrupt):
        runner.run({})
    assert runner.state is S.FAILED and isinstance(runner.error, KeyboardInterrupt)
