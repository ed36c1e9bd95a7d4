"""Plugin manager factory: specs, entry points, explicit plugins, optional tracing."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import pluggy

from . import hookspecs
from ._rules import RuleRegistry

__all__ = ["default_registry", "make_plugin_manager", "registry_from"]

_log = logging.getLogger("theus_audit.hooks")


def make_plugin_manager(plugins: Iterable[object] = ()) -> pluggy.PluginManager:
    """A manager with the ``theus_audit`` specs, entry-point plugins (unless
    ``THEUS_DISABLE_PLUGIN_AUTOLOAD=1``) and ``plugins``; ``THEUS_TRACE_HOOKS=1`` traces
    every hook call to the ``theus_audit.hooks`` logger."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("THEUS_DISABLE_PLUGIN_AUTOLOAD", "") not in ("1", "true", "yes"):
        pm.load_setuptools_entrypoints(hookspecs.PROJECT_NAME)
    for plugin in plugins:
        pm.register(plugin)
    if os.environ.get("THEUS_TRACE_HOOKS", "") in ("1", "true", "yes"):
        pm.trace.root.setwriter(_log.debug)
        pm.enable_tracing()
    return pm


def registry_from(pm: pluggy.PluginManager) -> RuleRegistry:
    """Built-in kinds plus those the manager's plugins register."""
    registry = RuleRegistry()
    pm.hook.audit_register_rules(registry=registry)
    return registry


def default_registry() -> RuleRegistry:
    """The registry a recipe is validated against when none is given: the built-ins plus
    kinds from entry-point plugins."""
    return registry_from(make_plugin_manager())
