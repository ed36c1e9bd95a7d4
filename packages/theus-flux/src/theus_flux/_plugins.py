"""The plugin manager factory (entry-point group ``theus_flux``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import pluggy

from . import hookspecs

__all__ = ["make_plugin_manager"]

PROJECT = "theus_flux"
logger = logging.getLogger("theus_flux.hooks")


def make_plugin_manager(plugins: Iterable[object] = ()) -> pluggy.PluginManager:
    """A plugin manager with the flux hookspecs, entry-point plugins and ``plugins``.

    Entry points of the group ``theus_flux`` are loaded unless
    ``THEUS_DISABLE_PLUGIN_AUTOLOAD=1``; ``THEUS_TRACE_HOOKS=1`` traces hook calls to the
    ``theus_flux.hooks`` logger.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("THEUS_DISABLE_PLUGIN_AUTOLOAD") != "1":
        pm.load_setuptools_entrypoints(PROJECT)
    for plugin in plugins:
        pm.register(plugin)
    if os.environ.get("THEUS_TRACE_HOOKS") == "1":
        pm.trace.root.setwriter(logger.debug)
        pm.enable_tracing()
    return pm
