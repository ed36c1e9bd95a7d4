"""Recipe data model: settings, checks, rules and processes (validated, immutable)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from ._levels import AuditLevel

__all__ = ["PHASES", "Check", "ProcessRecipe", "RuleSpec", "Settings", "error_key"]

PHASES: Final = ("inputs", "outputs")


def error_key(process: str) -> str:
    """The audit key under which a process's exceptions are counted."""
    return f"{process}:error"


@dataclass(frozen=True, slots=True)
class Settings:
    """Level and thresholds, as resolved for the top, a process or a rule."""

    level: AuditLevel = AuditLevel.A
    threshold_max: int = 3
    threshold_min: int | None = None
    reset_on_success: bool = True


class Check(NamedTuple):
    """One check of a rule: kind (``min``, ``regex``, a custom kind), parameter, counter key."""

    kind: str
    param: Any
    key: str
    line: int | None


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule mapping of a recipe, with its settings resolved."""

    process: str
    phase: str
    field: str
    checks: tuple[Check, ...]
    settings: Settings
    message: str | None = None
    required: bool = True
    # where the rule was written, for errors raised when an Auditor compiles it
    source: str | None = None
    line: int | None = None
    path: str = ""


@dataclass(frozen=True, slots=True)
class ProcessRecipe:
    """Rules of one process plus the settings its exceptions and rules inherit."""

    name: str
    settings: Settings
    inputs: tuple[RuleSpec, ...] = ()
    outputs: tuple[RuleSpec, ...] = ()

    def rules(self) -> Iterator[RuleSpec]:
        yield from self.inputs
        yield from self.outputs
