"""Plugin manager factory for theus-signals.

The manager tells its owners when the set of plugins changes, so that hot paths (publish)
can test a precomputed flag instead of asking pluggy on every call.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs

log = logging.getLogger("theus_signals.hooks")


class SignalsPluginManager(pluggy.PluginManager):
    """A :class:`pluggy.PluginManager` that notifies listeners on (un)registration."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)
        listener()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        result = super().register(plugin, name)
        self._changed()
        return result

    def unregister(self, plugin: Any | None = None, name: str | None = None) -> Any | None:
        result = super().unregister(plugin, name)
        self._changed()
        return result

    def implements(self, hook_name: str) -> bool:
        """Whether any registered plugin implements ``hook_name``."""
        caller = getattr(self.hook, hook_name)
        return bool(caller.get_hookimpls())


@functools.cache
def _entry_points() -> tuple[metadata.EntryPoint, ...]:
    return tuple(metadata.entry_points(group=hookspecs.PROJECT))


def make_plugin_manager(plugins: Iterable[object] = ()) -> SignalsPluginManager:
    """A manager with the specs, the entry-point plugins (unless
    ``THEUS_DISABLE_PLUGIN_AUTOLOAD=1``), then ``plugins`` registered."""
    pm = SignalsPluginManager()
    pm.add_hookspecs(hookspecs)
    if os.environ.get("THEUS_DISABLE_PLUGIN_AUTOLOAD", "") not in ("1", "true", "yes"):
        for ep in _entry_points():
            if pm.get_plugin(ep.name) is None and not pm.is_blocked(ep.name):
                pm.register(ep.load(), name=ep.name)
    for plugin in plugins:
        pm.register(plugin)
    if os.environ.get("THEUS_TRACE_HOOKS", "") in ("1", "true", "yes"):
        pm.trace.root.setwriter(log.debug)
        pm.enable_tracing()
    return pm
