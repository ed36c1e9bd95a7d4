"""Running Flux workflows through the engine.

Each process step is one engine call (its own transaction); conditions read the live
state through :class:`LiveContext` at the moment they are evaluated: ``domain``,
``global``, ``signal`` (SIGNAL values of the most recent commit, keyed by full path) and
``meta`` (META fields, keyed by full path).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from theus_flux import FluxRunner, Workflow
from theus_state import PathNotFound, Zone, parse_path

from ._relay import FluxRelay

if TYPE_CHECKING:
    from ._engine import TheusEngine

__all__ = ["LiveContext", "execute_workflow", "load_workflow", "run_workflow"]


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
    """The names Flux conditions see, read from the engine's current state."""

    _NAMES = ("domain", "global", "signal", "meta")

    def __init__(self, engine: TheusEngine) -> None:
        self._engine = engine

    def __getitem__(self, name: str) -> Any:
        state = self._engine.state
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


def load_workflow(workflow: Any) -> Workflow:
    if isinstance(workflow, Workflow):
        return workflow
    if isinstance(workflow, os.PathLike):
        return Workflow.from_yaml(Path(workflow))
    if isinstance(workflow, str):
        if "\n" not in workflow and workflow.endswith((".yaml", ".yml")):
            return Workflow.from_yaml(Path(workflow))
        return Workflow.from_yaml(workflow)
    raise TypeError(
        f"workflow must be a Workflow, a YAML path or YAML text, not {type(workflow).__name__}"
    )


def _runner(engine: TheusEngine, workflow: Any, executor: Any, max_ops: int | None) -> FluxRunner:
    plugins: list[object] = list(engine._plugin_objects)
    if engine._pm.active.get("theus_workflow_step"):
        plugins.append(FluxRelay(engine))
    return FluxRunner(load_workflow(workflow), executor, max_ops=max_ops, plugins=plugins)


def run_workflow(engine: TheusEngine, workflow: Any, *, max_ops: int | None = None) -> list[str]:
    runner = _runner(engine, workflow, engine.run, max_ops)
    return runner.run(LiveContext(engine))


async def execute_workflow(
    engine: TheusEngine, workflow: Any, *, max_ops: int | None = None
) -> list[str]:
    runner = _runner(engine, workflow, engine.execute, max_ops)
    return await runner.arun(LiveContext(engine))
