"""Plugin manager factory: entry points in group ``theus_shm`` plus explicit plugins."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import pluggy

from . import hookspecs

logger = logging.getLogger("theus_shm.hooks")
PROJECT = "theus_shm"

_default: pluggy.PluginManager | None = None


def make_plugin_manager(plugins: Iterable[object] = ()) -> pluggy.PluginManager:
    """A manager with theus-shm's hookspecs, the installed entry-point plugins (unless
    ``THEUS_DISABLE_PLUGIN_AUTOLOAD=1``) and ``plugins``; ``THEUS_TRACE_HOOKS=1`` traces
    every hook call to the ``theus_shm.hooks`` logger."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("THEUS_DISABLE_PLUGIN_AUTOLOAD") != "1":
        pm.load_setuptools_entrypoints(PROJECT)
    for plugin in plugins:
        pm.register(plugin)
    if tracing_requested():
        pm.trace.root.setwriter(logger.debug)
        pm.enable_tracing()
    return pm


def tracing_requested() -> bool:
    return os.environ.get("THEUS_TRACE_HOOKS") == "1"


def default_plugin_manager() -> pluggy.PluginManager:
    """The shared manager used where no registry supplies one (``scan_zombies``, the CLI)."""
    global _default
    if _default is None:
        _default = make_plugin_manager()
    return _default
