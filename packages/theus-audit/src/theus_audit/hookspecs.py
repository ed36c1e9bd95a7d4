"""Pluggy hook specifications of theus-audit (project name ``theus_audit``).

Plugins implement them with :data:`hookimpl` and are passed as ``Auditor(plugins=[...])``
or published in the entry-point group ``theus_audit`` (loaded unless
``THEUS_DISABLE_PLUGIN_AUTOLOAD=1``). Every argument is keyword-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._decision import Violation
    from ._rules import RuleRegistry

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "theus_audit"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def audit_violation(violation: Violation) -> None:
    """A rule failed or a process raised (one call per failing rule key).

    Fires after the counter was updated, outside the auditor's lock, before the check
    returns. ``violation`` carries ``key``, ``process``, ``phase`` (``inputs``,
    ``outputs`` or ``error``), ``field``, ``rule``, ``level``, ``value``, ``message``,
    ``count`` (consecutive failures, this one included) and ``action``.
    """


@hookspec
def audit_threshold_warning(key: str, process: str, count: int, threshold_min: int) -> None:
    """A rule key's failure count reached ``threshold_min`` (once per crossing: again
    only after the counter was reset by a success or ``reset()``). Fires just before the
    matching :class:`AuditWarning` goes to the ``warnings`` module."""


@hookspec
def audit_register_rules(registry: RuleRegistry) -> None:
    """Register custom rule kinds: ``registry.register(name, factory)`` where
    ``factory(param)`` returns a predicate ``value -> bool``. Called once when an
    :class:`Auditor` (or :func:`default_registry`) is built, before its recipe is
    loaded/compiled, so the new kinds are valid keys in rule mappings."""
