"""Relaying leaf hooks to the engine's hooks.

Relay objects are registered in a leaf's plugin manager only while some engine plugin
implements the matching engine hook, so an engine without plugins pays nothing on its
hot paths. ``EnginePluginManager`` re-syncs them on every register/unregister.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import theus_audit
import theus_flux
import theus_state

if TYPE_CHECKING:
    from ._engine import TheusEngine

__all__ = ["FluxRelay", "attach_relays"]


class _StateRelay:
    def __init__(self, engine: TheusEngine) -> None:
        self.engine = engine

    @theus_state.hookimpl
    def theus_state_commit(self, version: int, paths: tuple[str, ...]) -> None:
        self.engine._pm.hook.theus_commit(engine=self.engine, version=version, paths=paths)

    @theus_state.hookimpl
    def theus_state_rollback(
        self, version: int, paths: tuple[str, ...], error: BaseException | None
    ) -> None:
        self.engine._pm.hook.theus_rollback(
            engine=self.engine, version=version, paths=paths, error=error
        )


class _AuditRelay:
    def __init__(self, engine: TheusEngine) -> None:
        self.engine = engine

    @theus_audit.hookimpl
    def audit_violation(self, violation: Any) -> None:
        self.engine._pm.hook.theus_audit_violation(engine=self.engine, violation=violation)


class FluxRelay:
    """Registered in each FluxRunner the engine creates (when someone listens)."""

    def __init__(self, engine: TheusEngine) -> None:
        self.engine = engine

    @theus_flux.hookimpl
    def flux_step_start(self, step_path: str, kind: str, name: str | None) -> None:
        self.engine._pm.hook.theus_workflow_step(
            engine=self.engine, step_path=step_path, name=name, phase="start", error=None
        )

    @theus_flux.hookimpl
    def flux_step_end(
        self, step_path: str, kind: str, name: str | None, error: BaseException | None
    ) -> None:
        self.engine._pm.hook.theus_workflow_step(
            engine=self.engine, step_path=step_path, name=name, phase="end", error=error
        )


def _sync(pm: Any, relay: object, wanted: bool) -> None:
    registered = pm.is_registered(relay)
    if wanted and not registered:
        pm.register(relay)
    elif not wanted and registered:
        pm.unregister(relay)


def attach_relays(engine: TheusEngine) -> None:
    state_relay = _StateRelay(engine)
    audit_relay = _AuditRelay(engine)

    def sync() -> None:
        active = engine._pm.active
        _sync(
            engine._store.plugin_manager,
            state_relay,
            bool(active.get("theus_commit") or active.get("theus_rollback")),
        )
        _sync(engine._audit.plugin_manager, audit_relay, bool(active.get("theus_audit_violation")))

    engine._pm.on_change = sync
    sync()
