"""Errors and the warning category of theus-audit.

``AuditError`` is the root. The three refusal errors carry the :class:`Decision` that
produced them (``.decision``, ``.process``, ``.reasons``). ``RecipeError`` is raised at
load time for a bad recipe and names the file, line and key path of the problem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._decision import Decision

__all__ = [
    "AuditAbortError",
    "AuditBlockError",
    "AuditError",
    "AuditStopError",
    "AuditWarning",
    "RecipeError",
]


class AuditError(Exception):
    """Root of every theus-audit error."""


class _RefusalError(AuditError):
    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.process = decision.process
        self.reasons = decision.reasons
        where = f"process {decision.process!r}" if decision.process else "audit"
        detail = "; ".join(decision.reasons) or "no reason given"
        super().__init__(f"{where}: {decision.action}: {detail}")


class AuditStopError(_RefusalError):
    """Level S: the engine must halt; every check answers ``stop`` until ``reset()``."""


class AuditAbortError(_RefusalError):
    """Level A: the current operation must be rolled back."""


class AuditBlockError(_RefusalError):
    """Level B: a rule key exceeded ``threshold_max``; the process is refused."""


class RecipeError(AuditError, ValueError):
    """A recipe failed validation.

    Attributes: ``source`` (file name or ``None`` for a dict recipe), ``line`` (1-based, or
    ``None`` when unknown), ``key`` (dotted key path such as ``processes.t.inputs[0]``) and
    ``problem`` (the text after the location).
    """

    def __init__(
        self, problem: str, *, key: str = "", source: str | None = None, line: int | None = None
    ) -> None:
        self.problem = problem
        self.key = key
        self.source = source
        self.line = line
        parts = []
        if source is not None:
            parts.append(f"{source}:{line}" if line is not None else source)
        if key:
            parts.append(key)
        parts.append(problem)
        super().__init__(": ".join(parts))


class AuditWarning(UserWarning):
    """Emitted (``warnings`` module and the ``audit_threshold_warning`` hook) when a rule
    key's consecutive-failure count reaches ``threshold_min``."""

    def __init__(self, message: str, *, key: str = "", count: int = 0, threshold: int = 0) -> None:
        super().__init__(message)
        self.key = key
        self.count = count
        self.threshold = threshold
