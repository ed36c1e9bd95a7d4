from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from theus_flux import (
    CustomStep,
    FluxRunner,
    FluxStepError,
    InvalidWorkflow,
    Position,
    RunState,
    StepKind,
    Workflow,
    compile_condition,
    hookimpl,
    hookspecs,
    make_plugin_manager,
)

MIXED = """
steps:
  - a
  - flux: if
    condition: domain.ok
    then: [b]
  - flux: while
    condition: domain.n > 0
    do: ["dec"]
  - flux: run
    steps: [c]
"""


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    @hookimpl
    def flux_step_start(self, step_path: str, kind: str, name: str | None) -> None:
        self.events.append(("start", step_path, kind, name))

    @hookimpl
    def flux_step_end(
        self,
        step_path: str,
        kind: str,
        name: str | None,
        error: BaseException | None,
        position: Position | None,
    ) -> None:
        self.events.append(
            ("end", step_path, kind, name, type(error).__name__ if error else None, position)
        )


def executor_for(ctx: dict[str, Any]) -> Any:
    def run(name: str) -> None:
        if name == "dec":
            ctx["domain"]["n"] -= 1
        if name == "fail":
            raise RuntimeError("nope")

    return run


def test_start_and_end_hooks_fire_for_every_step() -> None:
    rec = Recorder()
    ctx: dict[str, Any] = {"domain": {"ok": True, "n": 1}}
    workflow = Workflow.from_yaml(MIXED)
    runner = FluxRunner(workflow, executor_for(ctx), plugins=[rec])
    assert runner.run(ctx) == ["a", "b", "dec", "c"]
    fp = workflow.fingerprint

    def done(path: str, name: str, loops: tuple[int, ...], ops: int) -> tuple[Any, ...]:
        return ("end", path, "process", name, None, Position(path, loops, ops, False, fp))

    assert rec.events == [
        ("start", "steps[0]", "process", "a"),
        done("steps[0]", "a", (), 1),
        ("start", "steps[1]", "if", None),
        ("start", "steps[1].then[0]", "process", "b"),
        done("steps[1].then[0]", "b", (), 3),
        ("end", "steps[1]", "if", None, None, None),
        ("start", "steps[2]", "while", None),
        ("start", "steps[2].do[0]", "process", "dec"),
        done("steps[2].do[0]", "dec", (1,), 6),
        ("end", "steps[2]", "while", None, None, None),
        ("start", "steps[3]", "run", None),
        ("start", "steps[3].steps[0]", "process", "c"),
        done("steps[3].steps[0]", "c", (), 8),
        ("end", "steps[3]", "run", None, None, None),
    ]


def test_end_hooks_on_failure_fire_innermost_first() -> None:
    rec = Recorder()
    text = (
        "steps:\n  - flux: run\n    steps:\n      - flux: while\n"
        "        condition: 'True'\n        do: [fail]\n"
    )
    runner = FluxRunner(Workflow.from_yaml(text), executor_for({}), plugins=[rec])
    with pytest.raises(FluxStepError):
        runner.run({})
    ends = [e[:5] for e in rec.events if e[0] == "end"]
    assert ends == [
        ("end", "steps[0].steps[0].do[0]", "process", "fail", "FluxStepError"),
        ("end", "steps[0].steps[0]", "while", None, "FluxStepError"),
        ("end", "steps[0]", "run", None, "FluxStepError"),
    ]


def test_hooks_registered_later_fire_on_the_next_run_and_subsets_of_args_work() -> None:
    names: list[str | None] = []

    class Partial:
        @hookimpl
        def flux_step_start(self, name: str | None) -> None:
            names.append(name)

    runner = FluxRunner(Workflow.from_yaml("steps: [a, b]"), lambda n: None)
    assert runner._hooks() == (None, None)  # nothing implemented: nothing called
    runner.run({})
    runner.plugin_manager.register(Partial())
    runner.run({})
    assert names == ["a", "b"]
    assert runner._hooks()[1] is None


def test_a_raising_hook_fails_the_run() -> None:
    class Bad:
        @hookimpl
        def flux_step_start(self, step_path: str) -> None:
            if step_path == "steps[1]":
                raise RuntimeError("hook bug")

    runner = FluxRunner(Workflow.from_yaml("steps: [a, b]"), lambda n: None, plugins=[Bad()])
    with pytest.raises(RuntimeError, match="hook bug"):
        runner.run({})
    assert runner.state is RunState.FAILED


# ---------------------------------------------------------------- custom step kinds


class LogKind:
    """A plugin adding ``flux: log`` (message) and ``flux: repeat`` (process, times)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def _log(self, ctx: Any, config: Any, executor: Any) -> None:
        self.messages.append(config["message"])

    @staticmethod
    def _parse_repeat(spec: dict[str, Any]) -> tuple[str, int]:
        times = spec.get("times", 1)
        if not isinstance(times, int) or times < 0:
            raise ValueError(f"'times' must be a non-negative integer, not {times!r}")
        return spec["process"], times

    @staticmethod
    async def _repeat(ctx: Any, config: tuple[str, int], executor: Any) -> None:
        name, times = config
        for _ in range(times):
            await asyncio.sleep(0)
            executor(name)

    @hookimpl
    def flux_step_kinds(self) -> list[StepKind]:
        return [
            StepKind(
                "log", self._log, keys=frozenset({"message"}), required=frozenset({"message"})
            ),
            StepKind(
                "repeat",
                self._repeat,
                keys=frozenset({"process", "times"}),
                required=frozenset({"process"}),
                parse=self._parse_repeat,
            ),
            StepKind("if", self._log),  # built-in kinds cannot be replaced
        ]


class GuardKind:
    @hookimpl
    def flux_step_kinds(self) -> list[StepKind]:
        def parse(spec: dict[str, Any]) -> Any:
            return compile_condition(spec["check"])

        def run(ctx: Any, cond: Any, executor: Any) -> None:
            if not cond(ctx):
                raise AssertionError("guard failed")

        return [StepKind("guard", run, keys=frozenset({"check"}), parse=parse)]


CUSTOM = """
steps:
  - flux: log
    message: hello
  - flux: repeat
    process: tick
    times: 2
  - flux: if
    condition: 'True'
    then: [done]
"""


def test_custom_step_kinds_load_and_run() -> None:
    plugin = LogKind()
    workflow = Workflow.from_yaml(CUSTOM, plugins=[plugin])
    first = workflow.steps[0]
    assert isinstance(first, CustomStep) and first.kind == "log" and first.line == 3
    assert dict(first.spec) == {"message": "hello"}
    assert workflow.steps[1].config == ("tick", 2)  # type: ignore[union-attr]
    calls: list[str] = []
    seen: list[tuple[RunState, RunState, str | None]] = []
    rec = Recorder()
    runner = FluxRunner(workflow, calls.append, plugins=[rec])
    runner.add_observer(lambda old, new, path: seen.append((old, new, path)))
    assert runner.run({}) == ["done"]  # only process steps are listed
    assert calls == ["tick", "tick", "done"] and plugin.messages == ["hello"]
    assert (RunState.RUNNING, RunState.WAITING_IO, "steps[1]") in seen  # async custom step
    assert ("start", "steps[0]", "log", None) in rec.events
    assert asyncio.run(runner.arun({})) == ["done"]
    assert plugin.messages == ["hello", "hello"]
    fingerprint = Workflow.from_yaml(CUSTOM.replace("hello", "bye"), plugins=[plugin]).fingerprint
    assert fingerprint != workflow.fingerprint


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("steps:\n  - flux: log\n    mesage: x\n", 3, "unknown key 'mesage'"),
        ("steps:\n  - flux: log\n", 2, "needs the key 'message'"),
        ("steps:\n  - a\n  - flux: repeat\n    process: t\n    times: -1\n", 3, "non-negative"),
        ("steps:\n  - flux: guard\n    check: 'os.system()'\n", 2, "unknown name 'os'"),
        ("steps:\n  - flux: nope\n", 2, "known: if, while, run, wait, guard, log, repeat"),
    ],
)
def test_custom_kind_errors(text: str, line: int, fragment: str) -> None:
    with pytest.raises(InvalidWorkflow) as info:
        Workflow.from_yaml(text, plugins=[LogKind(), GuardKind()])
    assert info.value.line == line and fragment in str(info.value)


def test_custom_kind_failure_and_unknown_kind_without_plugin() -> None:
    workflow = Workflow.from_yaml(
        "steps:\n  - flux: guard\n    check: domain.ok\n", plugins=[GuardKind()]
    )
    runner = FluxRunner(workflow, lambda n: None)
    assert runner.run({"domain": {"ok": True}}) == []
    with pytest.raises(FluxStepError) as info:
        runner.run({"domain": {"ok": False}})
    assert info.value.step_path == "steps[0]" and "'guard' step failed" in str(info.value)
    with pytest.raises(InvalidWorkflow, match="unknown step kind 'guard'"):
        Workflow.from_yaml("steps:\n  - flux: guard\n    check: domain.ok\n")


def test_a_shared_plugin_manager_serves_loading() -> None:
    pm = make_plugin_manager([LogKind()])
    workflow = Workflow.from_yaml("steps:\n  - flux: log\n    message: m\n", plugin_manager=pm)
    assert workflow.steps[0].kind == "log"


# ---------------------------------------------------------------- plugin manager


class _FakeEntryPoint:
    name = "fake-plugin"

    def __init__(self, plugin: object) -> None:
        self.plugin = plugin

    def load(self) -> object:
        return self.plugin


def test_entry_points_are_loaded_unless_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    from theus_flux import _plugins

    recorder = Recorder()
    monkeypatch.setattr(_plugins, "_entry_points", lambda: (_FakeEntryPoint(recorder),))
    assert make_plugin_manager().get_plugin("fake-plugin") is None  # disabled (conftest)
    monkeypatch.delenv("THEUS_DISABLE_PLUGIN_AUTOLOAD")
    runner = FluxRunner(Workflow.from_yaml("steps: [a]"), lambda n: None)
    assert runner.plugin_manager.project_name == "theus_flux"
    assert runner.plugin_manager.get_plugin("fake-plugin") is recorder
    runner.run({})
    assert [e[:2] for e in recorder.events] == [("start", "steps[0]"), ("end", "steps[0]")]


def test_entry_points_are_read_once_per_process() -> None:
    from theus_flux import _plugins

    assert _plugins._entry_points() is _plugins._entry_points()


def test_runners_can_share_one_plugin_manager() -> None:
    recorder = Recorder()
    pm = make_plugin_manager([recorder])
    wf = Workflow.from_yaml("steps: [a, b]")
    first = FluxRunner(wf, lambda n: None, plugin_manager=pm)
    second = FluxRunner(wf, lambda n: None, plugin_manager=pm)
    assert first.plugin_manager is second.plugin_manager is pm
    first.run({})
    second.run({})
    starts = [e[1] for e in recorder.events if e[0] == "start"]
    assert starts == ["steps[0]", "steps[1]"] * 2
    late = Recorder()
    pm.register(late)  # seen by the next run of any runner sharing it
    second.run({})
    assert [e[1] for e in late.events if e[0] == "start"] == ["steps[0]", "steps[1]"]
    with pytest.raises(TypeError, match="not both"):
        FluxRunner(wf, lambda n: None, plugins=[Recorder()], plugin_manager=pm)


def test_hook_tracing(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("THEUS_TRACE_HOOKS", "1")
    runner = FluxRunner(Workflow.from_yaml("steps: [a]"), lambda n: None, plugins=[Recorder()])
    with caplog.at_level(logging.DEBUG, logger="theus_flux.hooks"):
        runner.run({})
    assert "flux_step_start" in caplog.text


def test_hookspecs_module() -> None:
    assert hookspecs.hookimpl is hookimpl
    pm = make_plugin_manager()
    assert {"flux_step_start", "flux_step_end", "flux_step_kinds"} <= set(dir(pm.hook))
