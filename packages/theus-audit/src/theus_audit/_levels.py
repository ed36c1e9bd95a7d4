"""Audit levels and decision actions, with their severity order."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["ACTIONS", "SEVERITY", "AuditLevel", "parse_level"]


class AuditLevel(StrEnum):
    """What a failing rule does.

    - ``S`` stop: the auditor enters the *stopped* state; every check answers ``stop``
      until :meth:`Auditor.reset`.
    - ``A`` abort: the failing operation is refused (``abort``) on every failure.
    - ``B`` block: failures are counted per rule key; the failure that makes the count
      exceed ``threshold_max`` and every later one is refused (``block``).
    - ``C`` count: failures are counted and reported (``warn``), never refused.
    """

    S = "S"
    A = "A"
    B = "B"
    C = "C"


_ALIASES: Final[dict[str, AuditLevel]] = {
    "s": AuditLevel.S,
    "stop": AuditLevel.S,
    "safety": AuditLevel.S,
    "a": AuditLevel.A,
    "abort": AuditLevel.A,
    "b": AuditLevel.B,
    "block": AuditLevel.B,
    "c": AuditLevel.C,
    "count": AuditLevel.C,
    "campaign": AuditLevel.C,
}

LEVEL_CHOICES: Final = "S, A, B, C (or stop, abort, block, count)"

#: Decision actions, least to most severe. Several failures: the most severe wins.
ACTIONS: Final = ("allow", "warn", "block", "abort", "stop")
SEVERITY: Final[dict[str, int]] = {name: rank for rank, name in enumerate(ACTIONS)}


def parse_level(value: object) -> AuditLevel:
    """``AuditLevel`` from a level, a letter or a name (case-insensitive).

    Raises ``ValueError`` for anything else (``TypeError`` for a non-string).
    """
    if isinstance(value, AuditLevel):
        return value
    if not isinstance(value, str):
        got = "null" if value is None else type(value).__name__
        raise TypeError(f"expected a level ({LEVEL_CHOICES}), got {got}")
    try:
        return _ALIASES[value.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown level {value!r} (expected one of {LEVEL_CHOICES})") from None
