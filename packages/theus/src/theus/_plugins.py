"""Plugin manager of the engine: specs, ``plugins=``, entry points, tracing, flags."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable

from theus_state._plugins import HookFlags, _entry_points

from . import hookspecs

__all__ = ["EnginePluginManager", "autoload_enabled", "make_plugin_manager"]

PROJECT = "theus"
_log = logging.getLogger("theus.hooks")


def autoload_enabled() -> bool:
    return os.environ.get("THEUS_DISABLE_PLUGIN_AUTOLOAD", "") not in ("1", "true", "yes")


class EnginePluginManager(HookFlags):
    """theus-state's flagged manager (``active[hook_name]`` so hot paths skip hooks nobody
    implements) that also tells the engine when registrations change (relays re-sync)."""

    def __init__(self) -> None:
        self.on_change: Callable[[], None] | None = None
        super().__init__(PROJECT)

    def _refresh(self) -> None:
        super()._refresh()
        if self.on_change is not None:
            self.on_change()


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
