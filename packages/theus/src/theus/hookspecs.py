"""Hook specifications of the theus engine (pluggy project name ``theus``).

A plugin passed as ``TheusEngine(plugins=[...])`` (or found in the entry-point group
``theus``) is registered with the engine *and* with every leaf it drives (store, signal
hub, auditor, flux runners, shm registry), so one object can implement the engine hooks
below and any leaf hook (``theus_state_commit``, ``signals_publish``, ``flux_step_start``,
``audit_violation``, ``theus_shm_alloc`` ...) with that leaf's marker. The engine also
re-emits the most useful leaf events as engine hooks (commit, rollback, workflow step,
audit violation). pluggy calls hooks with keyword arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ._contracts import ProcessSpec
    from ._engine import TheusEngine

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("theus")
hookimpl = pluggy.HookimplMarker("theus")


@hookspec
def theus_process_before(
    engine: TheusEngine, process: ProcessSpec, kwargs: Mapping[str, Any]
) -> None:
    """Fires before a process body runs (after the input audit passed); once per call,
    not per conflict retry. Raising refuses the call (nothing is written)."""


@hookspec
def theus_process_after(
    engine: TheusEngine, process: ProcessSpec, result: Any, version: int
) -> None:
    """Fires after a process committed (``version`` is the state version it produced,
    unchanged when it wrote nothing) and its signals were published."""


@hookspec
def theus_process_error(
    engine: TheusEngine, process: ProcessSpec, error: BaseException, declared: bool
) -> None:
    """Fires when a process failed and was rolled back, before the error propagates.
    ``declared`` tells whether the error type is in the process's ``errors``."""


@hookspec
def theus_commit(engine: TheusEngine, version: int, paths: tuple[str, ...]) -> None:
    """Fires after any commit on the engine's store that changed something."""


@hookspec
def theus_rollback(
    engine: TheusEngine, version: int, paths: tuple[str, ...], error: BaseException | None
) -> None:
    """Fires when a transaction on the engine's store is rolled back."""


@hookspec
def theus_workflow_step(
    engine: TheusEngine, step_path: str, name: str | None, phase: str, error: BaseException | None
) -> None:
    """Fires when a workflow step starts (``phase="start"``) and ends (``"end"``, with
    ``error`` set if it failed)."""


@hookspec
def theus_audit_violation(engine: TheusEngine, violation: Any) -> None:
    """Fires for every audit rule violation seen by the engine's auditor."""


@hookspec
def theus_pool_selected(engine: TheusEngine, process: ProcessSpec, kind: str) -> None:
    """Fires when a parallel process is routed to a pool backend (``kind`` is
    ``"interpreters"``, ``"processes"`` or ``"executor"``)."""


@hookspec(firstresult=True)
def theus_make_executor(engine: TheusEngine) -> Executor | None:
    """Return a ``concurrent.futures.Executor`` to run parallel processes on (first
    non-None answer wins), or None to let the engine pick its own pool."""
