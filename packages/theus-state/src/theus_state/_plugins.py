"""Plugin manager factory: specs, ``plugins=`` objects, entry points, tracing."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from . import hookspecs

__all__ = ["PROJECT", "HookFlags", "make_plugin_manager"]

PROJECT = "theus_state"
_log = logging.getLogger("theus_state.hooks")


@functools.cache
def _entry_points(group: str) -> tuple[EntryPoint, ...]:
    return tuple(entry_points(group=group))


class HookFlags(pluggy.PluginManager):
    """A PluginManager that keeps ``active``: the names of the hooks some plugin
    implements (``active.get(name)`` is True for those). It is empty while no plugin
    implements any hook, so a hot path tests ``if active and active.get(name)`` and pays
    one truth test when nobody listens."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.active: dict[str, bool] = {}

    def _refresh(self) -> None:
        self.active = {
            name: True
            for name in dir(self.hook)
            if not name.startswith("_") and getattr(self.hook, name).get_hookimpls()
        }

    def register(self, plugin: object, name: str | None = None) -> str | None:
        result = super().register(plugin, name)
        self._refresh()
        return result

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        result = super().unregister(plugin, name)
        self._refresh()
        return result


def make_plugin_manager(plugins: Iterable[object] = ()) -> HookFlags:
    pm = HookFlags(PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("THEUS_DISABLE_PLUGIN_AUTOLOAD", "") not in ("1", "true", "yes"):
        for ep in _entry_points(PROJECT):
            if pm.get_plugin(ep.name) is None and not pm.is_blocked(ep.name):
                pm.register(ep.load(), name=ep.name)
    for plugin in plugins:
        pm.register(plugin)
    if os.environ.get("THEUS_TRACE_HOOKS", "") in ("1", "true", "yes"):
        pm.trace.root.setwriter(_log.debug)
        pm.enable_tracing()
    pm._refresh()
    return pm
