"""Pluggy hook specifications of theus-flux (project name ``theus_flux``).

Hooks are always called with keyword arguments; an implementation may accept any subset
of a spec's parameters. A runner checks once per run which hooks have implementations
and skips the others entirely (no cost on the hot path).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._ir import StepKind
    from ._position import Position

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("theus_flux")
hookimpl = pluggy.HookimplMarker("theus_flux")


@hookspec
def flux_step_start(step_path: str, kind: str, name: str | None) -> None:
    """Fires just before a step runs: every kind (``process``, ``if``, ``while``, ``run``,
    ``wait``, custom). ``name`` is the process name of a process step, else ``None``.
    For ``if``/``while`` it fires before the condition is evaluated."""


@hookspec
def flux_step_end(
    step_path: str,
    kind: str,
    name: str | None,
    error: BaseException | None,
    position: Position | None,
) -> None:
    """Fires when a step finished: a leaf step after it ran, a structural step (``if``,
    ``while``, ``run``) after its whole body. On failure ``error`` is the exception the
    run raises (e.g. a ``FluxStepError`` whose ``__cause__`` is the step's own error) and
    it fires for the failed step and then for each enclosing structural step, innermost
    first. ``position`` is the run's position after a completed process, custom or
    ``wait`` step, else ``None``. A step that paused the run (a false ``wait``) gets no
    end call."""


@hookspec
def flux_step_kinds() -> Iterable[StepKind]:
    """Called at load time, the first time a workflow names a ``flux:`` kind that is not
    built in: return the custom ``StepKind`` objects this plugin provides. Built-in kinds
    (``if``, ``while``, ``run``, ``wait``) cannot be replaced; for a name offered by
    several plugins, the first answer wins."""
    return ()
