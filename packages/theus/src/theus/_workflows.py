"""Running Flux workflows through the engine.

Each process step is one engine call (its own transaction); conditions read the live
state through :class:`LiveContext` at the moment they are evaluated: ``domain``,
``global``, ``signal`` (SIGNAL values of the most recent commit, keyed by full path) and
``meta`` (META fields, keyed by full path).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from theus_flux import FluxError, FluxPaused, FluxRunner, Workflow, make_plugin_manager
from theus_state import PathNotFound, State, Zone, parse_path

from ._relay import FluxRelay
from .exceptions import TheusError

if TYPE_CHECKING:
    from ._engine import TheusEngine

_WORKFLOWS_MAX = 64  # parsed workflows kept per engine (by YAML text)

__all__ = [
    "LiveContext",
    "aresume_workflow",
    "execute_workflow",
    "load_workflow",
    "resume_workflow",
    "run_workflow",
]


class _MetaPaths(Mapping[str, Any]):
    def __init__(self, engine: TheusEngine) -> None:
        self._engine = engine

    def __getitem__(self, path: str) -> Any:
        if parse_path(path).zone is not Zone.META:
            raise KeyError(path)
        try:
            return self._engine.state.get(path)
        except PathNotFound:
            raise KeyError(path) from None

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class LiveContext(Mapping[str, Any]):
    """The names Flux conditions see, read from the engine's current state (the views of
    one state are made once: a condition reading ``domain`` twice gets one view)."""

    _NAMES = ("domain", "global", "signal", "meta")

    def __init__(self, engine: TheusEngine) -> None:
        self._engine = engine
        self._state: State | None = None
        self._views: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        state = self._engine._store._state
        if state is not self._state:
            self._state = state
            self._views = {}
        view = self._views.get(name)
        if view is None:
            view = self._views[name] = self._view(state, name)
        return view

    def _view(self, state: State, name: str) -> Any:
        if name == "domain":
            return state.domain
        if name in ("global", "global_", "global_ctx"):
            return state.global_
        if name == "signal":
            return state.signals
        if name == "meta":
            return _MetaPaths(self._engine)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._NAMES)

    def __len__(self) -> int:
        return len(self._NAMES)


def workflow_text(workflow: Any) -> str | None:
    """The YAML text of a workflow given as a path or as text (None for a Workflow)."""
    if isinstance(workflow, os.PathLike) or (
        isinstance(workflow, str) and "\n" not in workflow and workflow.endswith((".yaml", ".yml"))
    ):
        return Path(workflow).read_text(encoding="utf-8")
    if isinstance(workflow, str):
        return workflow
    return None


def load_workflow(workflow: Any, plugin_manager: Any = None) -> Workflow:
    """A ``Workflow`` from a Workflow, a YAML path or YAML text; custom ``flux:`` kinds
    come from ``plugin_manager`` (else from entry points)."""
    if isinstance(workflow, Workflow):
        return workflow
    if isinstance(workflow, os.PathLike):
        return Workflow.from_yaml(Path(workflow), plugin_manager=plugin_manager)
    if isinstance(workflow, str):
        if "\n" not in workflow and workflow.endswith((".yaml", ".yml")):
            return Workflow.from_yaml(Path(workflow), plugin_manager=plugin_manager)
        return Workflow.from_yaml(workflow, plugin_manager=plugin_manager)
    raise TypeError(
        f"workflow must be a Workflow, a YAML path or YAML text, not {type(workflow).__name__}"
    )


def engine_workflow(engine: TheusEngine, workflow: Any) -> Workflow:
    """``load_workflow`` with the engine's plugins (custom step kinds), YAML text parsed
    once per engine: a Workflow is immutable, and parsing costs far more than a short
    run. A file is read each time (it may have changed): the key is its path and text."""
    if isinstance(workflow, Workflow):
        return workflow
    text = workflow_text(workflow)
    if text is None:  # not a workflow at all: load_workflow says what is wrong
        return load_workflow(workflow)
    key = (workflow if text is not workflow else "", text)
    cache = engine._workflows
    wf = cache.get(key)
    if wf is None:
        wf = load_workflow(workflow, flux_plugin_manager(engine))
        if len(cache) >= _WORKFLOWS_MAX:
            cache.clear()
        cache[key] = wf
    return wf


def flux_plugin_manager(engine: TheusEngine) -> Any:
    """The theus-flux plugin manager the engine's runners share (the engine's plugins,
    plus the relay of flux steps to ``theus_workflow_step`` while someone implements
    it): made once per engine and relay need, not once per run."""
    relay = bool(engine._pm.active.get("theus_workflow_step"))
    pm = engine._flux_pms.get(relay)
    if pm is None:
        plugins: list[object] = list(engine._plugin_objects)
        if relay:
            plugins.append(FluxRelay(engine))
        pm = engine._flux_pms[relay] = make_plugin_manager(plugins)
    return pm


def _runner(
    engine: TheusEngine, wf: Workflow, run_id: str | None, max_ops: int | None, is_async: bool
) -> FluxRunner:
    runner: FluxRunner
    if run_id is None:
        executor: Any = engine.execute if is_async else engine.run
    else:
        runs = engine._runs

        def step_participants() -> tuple[Any, ...]:
            position = runner.step_position
            return (runs.participant(run_id, position),) if position is not None else ()

        if is_async:

            def executor(name: str) -> Any:
                return engine._execute(engine._resolve(name), {}, step_participants())

        else:

            def executor(name: str) -> Any:
                spec = engine._resolve(name)
                if spec.is_async:
                    raise FluxError(
                        f"step {name!r}: async processes in a run with run_id need "
                        "execute_workflow / aresume_workflow"
                    )
                if spec.parallel:  # its result commits with the run position
                    return engine._submit_parallel(spec, {}, step_participants()).result()
                return engine._call(spec, {}, step_participants())

    runner = FluxRunner(wf, executor, max_ops=max_ops, plugin_manager=flux_plugin_manager(engine))
    return runner


def _start(engine: TheusEngine, workflow: Any, run_id: str | None) -> Workflow:
    wf = engine_workflow(engine, workflow)
    if run_id is not None:
        if engine.durable:
            text = workflow_text(workflow)
            if text is None:
                raise TheusError("a durable run needs the workflow as a YAML path or text")
            engine._runs.create(run_id, text)
        else:
            engine._runs.create(run_id, wf)
    return wf


def _finished(engine: TheusEngine, run_id: str | None, exc: BaseException | None) -> None:
    if run_id is None:
        return
    if exc is None:
        engine._runs.set_status(run_id, "complete")
    elif isinstance(exc, FluxPaused):
        engine._runs.set_status(run_id, "paused", position=exc.position)
    else:
        engine._runs.set_status(run_id, "failed", error=f"{type(exc).__name__}: {exc}")


def _tracked(engine: TheusEngine, run_id: str | None, drive: Callable[[], list[str]]) -> list[str]:
    try:
        executed = drive()
    except BaseException as exc:
        _finished(engine, run_id, exc)
        raise
    _finished(engine, run_id, None)
    return executed


async def _atracked(
    engine: TheusEngine, run_id: str | None, drive: Coroutine[Any, Any, list[str]]
) -> list[str]:
    try:
        executed = await drive
    except BaseException as exc:
        _finished(engine, run_id, exc)
        raise
    _finished(engine, run_id, None)
    return executed


def run_workflow(
    engine: TheusEngine,
    workflow: Any,
    *,
    run_id: str | None = None,
    max_ops: int | None = None,
) -> list[str]:
    runner = _runner(engine, _start(engine, workflow, run_id), run_id, max_ops, False)
    return _tracked(engine, run_id, lambda: runner.run(LiveContext(engine)))


async def execute_workflow(
    engine: TheusEngine,
    workflow: Any,
    *,
    run_id: str | None = None,
    max_ops: int | None = None,
) -> list[str]:
    runner = _runner(engine, _start(engine, workflow, run_id), run_id, max_ops, True)
    return await _atracked(engine, run_id, runner.arun(LiveContext(engine)))


def _prepare_resume(engine: TheusEngine, run_id: str, signals: dict[str, Any]) -> Any:
    record = engine._runs.get(run_id)
    assert record is not None
    if record.status == "complete":
        raise TheusError(f"workflow run {run_id!r} is already complete")
    updates: dict[str, Any] = {}
    for name, value in signals.items():
        path = name if "." in name else f"domain.{name}"
        if parse_path(path).zone is not Zone.SIGNAL:
            raise TheusError(
                f"resume_workflow signal {name!r} is not a SIGNAL field (use a sig_ or cmd_ name)"
            )
        updates[path] = value
    if updates:
        engine._store.apply(updates, requester="resume_workflow")
        engine._publish({p: engine.state.signals.get(p, v) for p, v in updates.items()})
    engine._runs.set_status(run_id, "running")
    return record


def resume_workflow(engine: TheusEngine, run_id: str, signals: dict[str, Any]) -> list[str]:
    record = _prepare_resume(engine, run_id, signals)
    runner = _runner(engine, engine_workflow(engine, record.workflow), run_id, None, False)
    context = LiveContext(engine)
    return _tracked(engine, run_id, lambda: runner.run(context, resume_from=record.position))


async def aresume_workflow(engine: TheusEngine, run_id: str, signals: dict[str, Any]) -> list[str]:
    record = _prepare_resume(engine, run_id, signals)
    runner = _runner(engine, engine_workflow(engine, record.workflow), run_id, None, True)
    drive = runner.arun(LiveContext(engine), resume_from=record.position)
    return await _atracked(engine, run_id, drive)
