"""Per-key state of an Auditor: counter, compiled settings and the field lookup."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ._levels import AuditLevel
from ._rules import Predicate
from ._spec import Settings

__all__ = ["MISSING", "Failure", "KeyState", "Plan", "error_text", "lookup"]


class Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = Missing()


def lookup(values: Mapping[str, Any], field: str) -> Any:
    """Dotted fallback once ``values[field]`` missed: ``a.b`` walks mappings/attributes."""
    if "." not in field:
        return MISSING
    current: Any = values
    for part in field.split("."):
        if isinstance(current, Mapping):
            if part not in current:
                return MISSING
            current = current[part]
        else:
            current = getattr(current, part, MISSING)
            if current is MISSING:
                return MISSING
    return current


def error_text(param: Any, value: Any, error: BaseException | None) -> str:
    return f"{type(value).__name__}: {value}"


class KeyState:
    """Counter and compiled settings of one audit key."""

    __slots__ = (
        "count",
        "describe",
        "field",
        "key",
        "level",
        "message",
        "param",
        "phase",
        "process",
        "required",
        "reset",
        "rule",
        "sticky",
        "tmax",
        "tmin",
    )

    def __init__(
        self,
        key: str,
        process: str,
        phase: str,
        field: str,
        rule: str,
        param: Any,
        settings: Settings,
        describe: Callable[[Any, Any, BaseException | None], str],
        message: str | None = None,
        required: bool = True,
    ) -> None:
        self.key = key
        self.process = process
        self.phase = phase
        self.field = field
        self.rule = rule
        self.param = param
        self.level = settings.level
        self.tmax = settings.threshold_max
        self.tmin = settings.threshold_min
        self.reset = settings.reset_on_success
        # a blocked output key refuses check_inputs only when nothing can clear it
        self.sticky = not settings.reset_on_success or phase != "outputs"
        self.describe = describe
        self.message = message
        self.required = required
        self.count = 0

    def action(self, count: int) -> str:
        level = self.level
        if level == AuditLevel.S:
            return "stop"
        if level == AuditLevel.A:
            return "abort"
        if level == AuditLevel.B and count > self.tmax:
            return "block"
        return "warn"


Plan = tuple[tuple[str, Predicate, KeyState], ...]
Failure = tuple[KeyState, Any, BaseException | None]
