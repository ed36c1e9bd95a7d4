"""The plugin manager factory (entry-point group ``theus_flux``)."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

import pluggy

from . import hookspecs

__all__ = ["make_plugin_manager"]

PROJECT = "theus_flux"
logger = logging.getLogger("theus_flux.hooks")


@functools.cache
def _entry_points() -> tuple[EntryPoint, ...]:
    """The group's entry points, read once per process (a scan of every installed
    distribution costs milliseconds)."""
    return tuple(entry_points(group=PROJECT))


def make_plugin_manager(plugins: Iterable[object] = ()) -> pluggy.PluginManager:
    """A plugin manager with the flux hookspecs, entry-point plugins and ``plugins``.

    Entry points of the group ``theus_flux`` are loaded unless
    ``THEUS_DISABLE_PLUGIN_AUTOLOAD=1``; ``THEUS_TRACE_HOOKS=1`` traces hook calls to the
    ``theus_flux.hooks`` logger.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("THEUS_DISABLE_PLUGIN_AUTOLOAD") != "1":
        for ep in _entry_points():
            if pm.get_plugin(ep.name) is None and not pm.is_blocked(ep.name):
                pm.register(ep.load(), name=ep.name)
    for plugin in plugins:
        pm.register(plugin)
    if os.environ.get("THEUS_TRACE_HOOKS") == "1":
        pm.trace.root.setwriter(logger.debug)
        pm.enable_tracing()
    return pm
