"""What a check returns: a :class:`Decision` made of :class:`Violation` records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ._levels import AuditLevel
from .exceptions import AuditAbortError, AuditBlockError, AuditStopError

__all__ = ["ALLOW", "Decision", "Violation"]


@dataclass(frozen=True, slots=True)
class Violation:
    """One failing rule key (or one recorded process exception).

    ``phase`` is ``inputs``, ``outputs`` or ``error``; ``rule`` the rule kind (``min``,
    ``regex``, ... or ``error``); ``message`` the recipe's ``message`` when it has one,
    else ``detail``, the generated text (``-5 < min 0``); ``count`` the key's failure count
    including this one; ``action`` what this failure alone decides.
    """

    key: str
    process: str
    phase: str
    field: str
    rule: str
    level: AuditLevel
    value: Any
    message: str
    detail: str
    count: int
    action: str

    @property
    def reason(self) -> str:
        return f"{self.key}: {self.message}"


_ERRORS: Final = {
    "stop": AuditStopError,
    "abort": AuditAbortError,
    "block": AuditBlockError,
}


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a check.

    ``action`` is one of ``allow`` (nothing failed), ``warn`` (something failed but the
    operation may go on: a C rule, a B rule under its threshold), ``block``, ``abort`` or
    ``stop``; when several rules fail, the most severe action wins
    (stop > abort > block > warn > allow). ``reasons`` names each failing key and rule, plus
    each blocked key that refuses the process. ``ok`` is true for allow and warn.
    """

    action: str
    reasons: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()
    process: str | None = None
    phase: str | None = None

    @property
    def ok(self) -> bool:
        return self.action == "allow" or self.action == "warn"

    def raise_for_level(self) -> None:
        """Raise :class:`AuditStopError`, :class:`AuditAbortError` or
        :class:`AuditBlockError` for a refusing decision; return for allow and warn."""
        error = _ERRORS.get(self.action)
        if error is not None:
            raise error(self)


ALLOW: Final = Decision("allow")
