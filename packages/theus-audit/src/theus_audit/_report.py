"""Reporting of audit failures: their texts, and the log, hooks and warnings they go to.

Slow path only: used by an :class:`~theus_audit.Auditor` once a check has failed.
"""

from __future__ import annotations

import logging
import warnings

import pluggy

from ._decision import Violation
from ._keys import MISSING, Failure, KeyState
from ._log import AuditLog
from ._rules import short_repr
from .exceptions import AuditWarning

__all__ = ["describe_failures", "report"]

_logger = logging.getLogger("theus_audit")


def describe_failures(failed: list[Failure] | None) -> list[str]:
    """The generated text of each failure (``-5 < min 0``), in order. A rule kind whose
    ``describe`` raises gets a generic text instead: it must not hide the failure."""
    texts = []
    for state, value, error in failed or ():
        if value is MISSING:
            detail = f"field {state.field!r} is missing"
        else:
            try:
                detail = state.describe(state.param, value, error)
            except Exception as exc:  # noqa: BLE001 - a broken describe must not hide the failure
                detail = f"{state.rule} failed for {short_repr(value)} ({exc!r})"
        texts.append(detail)
    return texts


def report(
    log: AuditLog,
    hook: pluggy.HookRelay,
    violations: list[Violation],
    crossings: list[tuple[KeyState, int]],
    stacklevel: int,
) -> None:
    """Log each violation and call ``audit_violation``; for each ``threshold_min``
    crossing call ``audit_threshold_warning`` and emit an :class:`AuditWarning`.

    The auditor calls this after releasing its lock. A failing hook is logged and does
    not stop the others. ``stacklevel`` is passed to :func:`warnings.warn` as seen from
    this function."""
    for v in violations:
        log.append(v.key, v.level, f"{v.action}: {v.message} (count {v.count})")
        try:
            hook.audit_violation(violation=v)
        except Exception:
            _logger.exception("audit_violation hook failed for %s", v.key)
    for state, count in crossings:
        assert state.tmin is not None
        try:
            hook.audit_threshold_warning(
                key=state.key, process=state.process, count=count, threshold_min=state.tmin
            )
        except Exception:
            _logger.exception("audit_threshold_warning hook failed for %s", state.key)
        warnings.warn(
            AuditWarning(
                f"audit key {state.key!r} reached threshold_min {state.tmin} "
                f"({count} failures, level {state.level})",
                key=state.key,
                count=count,
                threshold=state.tmin,
            ),
            stacklevel=stacklevel,
        )
