"""The run state machine of a ``FluxRunner``.

Rules:
- States: PENDING -> RUNNING <-> WAITING_IO -> ... -> COMPLETE | FAILED | PAUSED.
- RUNNING <-> WAITING_IO brackets every awaited (async) step.
- COMPLETE, FAILED and PAUSED end a run; a new run on the same runner first returns to
  PENDING (observers see that transition too).
- Any transition not in ``TRANSITIONS`` is a bug and raises ``FluxError``.
- Observers are called as ``fn(old_state, new_state, step_path)`` after each transition;
  an observer that raises is logged and does not disturb the run.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping

from .exceptions import FluxError

__all__ = ["TERMINAL", "TRANSITIONS", "Observer", "RunState", "StateMachine"]

logger = logging.getLogger(__name__)


class RunState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_IO = "waiting_io"
    COMPLETE = "complete"
    FAILED = "failed"
    PAUSED = "paused"


_S = RunState
TRANSITIONS: Mapping[RunState, frozenset[RunState]] = {
    _S.PENDING: frozenset({_S.RUNNING, _S.FAILED}),
    _S.RUNNING: frozenset({_S.WAITING_IO, _S.COMPLETE, _S.FAILED, _S.PAUSED}),
    _S.WAITING_IO: frozenset({_S.RUNNING, _S.FAILED}),
    _S.COMPLETE: frozenset({_S.PENDING}),
    _S.FAILED: frozenset({_S.PENDING}),
    _S.PAUSED: frozenset({_S.PENDING}),
}
TERMINAL = frozenset({_S.COMPLETE, _S.FAILED, _S.PAUSED})

Observer = Callable[[RunState, RunState, "str | None"], object]


class StateMachine:
    """The current state plus its observers; ``transition`` enforces the table."""

    __slots__ = ("observers", "state")

    def __init__(self) -> None:
        self.state = RunState.PENDING
        self.observers: list[Observer] = []

    def transition(self, new: RunState, step_path: str | None = None) -> None:
        old = self.state
        if new not in TRANSITIONS[old]:
            raise FluxError(f"invalid run state transition {old} -> {new}")
        self.state = new
        for observer in tuple(self.observers):
            try:
                observer(old, new, step_path)
            except Exception:
                logger.exception("flux observer %r failed on %s -> %s", observer, old, new)
