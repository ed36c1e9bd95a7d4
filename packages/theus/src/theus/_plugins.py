"""Plugin manager of the engine: specs, ``plugins=``, entry points, tracing, flags."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from . import hookspecs

__all__ = ["EnginePluginManager", "autoload_enabled", "make_plugin_manager"]

PROJECT = "theus"
_log = logging.getLogger("theus.hooks")


@functools.cache
def _entry_points(group: str) -> tuple[EntryPoint, ...]:
    return tuple(entry_points(group=group))


def autoload_enabled() -> bool:
    return os.environ.get("THEUS_DISABLE_PLUGIN_AUTOLOAD", "") not in ("1", "true", "yes")


class EnginePluginManager(pluggy.PluginManager):
    """Keeps ``active[hook_name]`` so hot paths skip hooks nobody implements."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.active: dict[str, bool] = {}
        self.on_change: Callable[[], None] | None = None

    def _refresh(self) -> None:
        self.active = {
            name: bool(getattr(self.hook, name).get_hookimpls())
            for name in dir(self.hook)
            if not name.startswith("_")
        }
        if self.on_change is not None:
            self.on_change()

    def register(self, plugin: object, name: str | None = None) -> str | None:
        result = super().register(plugin, name)
        self._refresh()
        return result

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        result = super().unregister(plugin, name)
        self._refresh()
        return result


def make_plugin_manager(plugins: Iterable[object]) -> tuple[EnginePluginManager, list[object]]:
    """The engine's manager and the full list of plugin objects (entry points first)."""
    pm = EnginePluginManager()
    pm.add_hookspecs(hookspecs)
    objects: list[object] = []
    if autoload_enabled():
        for ep in _entry_points(PROJECT):
            obj = ep.load()
            objects.append(obj)
            pm.register(obj, name=ep.name)
    for plugin in plugins:
        objects.append(plugin)
        pm.register(plugin)
    if os.environ.get("THEUS_TRACE_HOOKS", "") in ("1", "true", "yes"):
        pm.trace.root.setwriter(_log.debug)
        pm.enable_tracing()
    pm._refresh()
    return pm, objects
