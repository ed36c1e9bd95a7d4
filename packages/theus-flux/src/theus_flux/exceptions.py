"""Errors of theus-flux. ``FluxError`` is the root; every error carries its data.

- ``InvalidWorkflow`` — load time: ``.source`` (file name or ``<string>``), ``.line``,
  ``.detail`` and ``.token`` (the offending key, kind or token); ``str()`` starts with
  ``source:line``.
- ``FluxStepError`` — a step failed at run time: ``.step_path`` (``steps[2].do[0]``),
  ``.step_name``; ``__cause__`` is the original exception.
- ``FluxConditionError`` — a condition could not be evaluated (missing name or field, bad
  operand): also a ``FluxStepError``, plus ``.condition`` (its text) and ``.where``.
- ``FluxLimitExceeded`` — the run counted more than ``max_ops`` operations.
- ``FluxPaused`` — not a failure: the run stopped at a ``flux: wait`` step whose condition
  is false; ``.position`` resumes it.

Run-time errors raised by a runner carry ``.position``: the position of the last step
that completed (``None`` if none did), so ``runner.run(ctx, resume_from=err.position)``
retries from the failed step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._position import Position

__all__ = [
    "FluxConditionError",
    "FluxError",
    "FluxLimitExceeded",
    "FluxPaused",
    "FluxStepError",
    "InvalidWorkflow",
]


class FluxError(Exception):
    """Root of every theus-flux error."""

    position: Position | None = None


class InvalidWorkflow(FluxError, ValueError):
    """A workflow (or a condition) was rejected at load time."""

    def __init__(self, source: str, line: int, detail: str, token: str | None = None) -> None:
        self.source = source
        self.line = line
        self.detail = detail
        self.token = token
        super().__init__(f"{self.where}: {detail}")

    @property
    def where(self) -> str:
        """``source:line`` (just ``source`` when the line is unknown)."""
        return f"{self.source}:{self.line}" if self.line > 0 else self.source

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.source, self.line, self.detail, self.token))


class FluxStepError(FluxError):
    """A step failed; ``__cause__`` holds the original exception."""

    def __init__(self, step_path: str, step_name: str | None, message: str) -> None:
        self.step_path = step_path
        self.step_name = step_name
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.step_path, self.step_name, self.args[0]))


class FluxConditionError(FluxStepError):
    """A condition failed to evaluate at run time (missing name or field, bad operand)."""

    def __init__(self, step_path: str, condition: str, where: str, reason: str) -> None:
        self.condition = condition
        self.where = where
        self.reason = reason
        label = step_path or "condition"
        super().__init__(
            step_path, None, f"{label}: condition {condition!r} ({where}) failed: {reason}"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.step_path, self.condition, self.where, self.reason))


class FluxLimitExceeded(FluxError):
    """The run counted more than ``max_ops`` steps and loop iterations."""

    def __init__(self, max_ops: int, step_path: str) -> None:
        self.max_ops = max_ops
        self.step_path = step_path
        super().__init__(
            f"{step_path}: the run exceeded max_ops={max_ops} operations "
            "(steps and loop iterations; raise it with max_ops= or THEUS_MAX_LOOPS)"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.max_ops, self.step_path))


class FluxPaused(FluxError):
    """The run paused at a ``flux: wait`` step; resume it from ``.position``."""

    position: Position

    def __init__(
        self, position: Position, condition: str, executed: list[str] | None = None
    ) -> None:
        self.position = position
        self.step_path = position.step_path
        self.condition = condition
        self.executed = list(executed or ())
        super().__init__(f"{position.step_path}: waiting until {condition!r}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.position, self.condition, self.executed))
