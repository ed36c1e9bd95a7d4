"""theus-audit: audit rules with S/A/B/C levels, thresholds and a ring-buffer log."""

from ._auditor import Auditor
from ._decision import ALLOW, Decision, Violation
from ._levels import ACTIONS, AuditLevel, parse_level
from ._log import AuditLog, AuditRecord
from ._plugins import default_registry, make_plugin_manager
from ._recipe import AuditRecipe
from ._rules import BUILTIN_KINDS, RuleKind, RuleRegistry
from ._spec import Check, ProcessRecipe, RuleSpec, Settings, error_key
from ._version import __version__
from .exceptions import (
    AuditAbortError,
    AuditBlockError,
    AuditError,
    AuditStopError,
    AuditWarning,
    RecipeError,
)
from .hookspecs import hookimpl

__all__ = [
    "ACTIONS",
    "ALLOW",
    "BUILTIN_KINDS",
    "AuditAbortError",
    "AuditBlockError",
    "AuditError",
    "AuditLevel",
    "AuditLog",
    "AuditRecipe",
    "AuditRecord",
    "AuditStopError",
    "AuditWarning",
    "Auditor",
    "Check",
    "Decision",
    "ProcessRecipe",
    "RecipeError",
    "RuleKind",
    "RuleRegistry",
    "RuleSpec",
    "Settings",
    "Violation",
    "__version__",
    "default_registry",
    "error_key",
    "hookimpl",
    "make_plugin_manager",
    "parse_level",
]
