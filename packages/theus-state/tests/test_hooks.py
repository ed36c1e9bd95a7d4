"""Every hook of theus_state.hookspecs fires, and plugins load the documented ways."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from theus_state import ConflictError, Store, hookimpl, hookspecs
from theus_state import _plugins as plugins_mod


class Spy:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    @hookimpl
    def theus_state_commit(self, store, version, paths, requester):  # type: ignore[no-untyped-def]
        assert store.state.version == version  # already visible
        self.events.append(("commit", version, paths, requester))

    @hookimpl
    def theus_state_rollback(self, store, version, paths, error):  # type: ignore[no-untyped-def]
        self.events.append(("rollback", version, paths, type(error).__name__))

    @hookimpl
    def theus_state_conflict(self, store, error, requester):  # type: ignore[no-untyped-def]
        self.events.append(("conflict", error.path, requester))


def test_every_hookspec_is_exercised_here() -> None:
    specs = {n for n in dir(hookspecs) if n.startswith("theus_state_")}
    assert specs == {"theus_state_commit", "theus_state_rollback", "theus_state_conflict"}
    assert set(specs) <= {n for n in dir(Spy) if n.startswith("theus_state_")}


def test_commit_rollback_conflict_hooks_fire() -> None:
    spy = Spy()
    store = Store({"domain": {"x": 0}}, plugins=[spy])
    with store.transaction(requester="me") as tx:
        tx.set("domain.x", 1)
    with pytest.raises(ValueError), store.transaction() as tx:
        tx.set("domain.x", 2)
        raise ValueError
    tx = store.transaction()
    tx.set("domain.x", 3)
    tx.rollback()
    stale = store.transaction(requester="late")
    stale.set("domain.x", 4)
    store.compare_and_swap(1, {"domain.x": 5}, requester="cas")
    with pytest.raises(ConflictError):
        stale.commit()
    assert spy.events == [
        ("commit", 1, ("domain.x",), "me"),
        ("rollback", 1, ("domain.x",), "ValueError"),
        ("rollback", 1, ("domain.x",), "NoneType"),
        ("commit", 2, ("domain.x",), "cas"),
        ("conflict", "domain.x", "late"),
        ("rollback", 1, ("domain.x",), "ConflictError"),
    ]


def test_plugin_manager_register_later_and_unregister() -> None:
    store = Store({"domain": {"x": 0}})
    spy = Spy()
    store.plugin_manager.register(spy)
    store.compare_and_swap(0, {"domain.x": 1})
    store.plugin_manager.unregister(spy)
    store.compare_and_swap(1, {"domain.x": 2})
    assert [e[0] for e in spy.events] == ["commit"]


class _CommitOnly:
    @hookimpl
    def theus_state_commit(self, store, version, paths, requester):  # type: ignore[no-untyped-def]
        pass


def test_active_names_exactly_the_implemented_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    # hot paths test ``if active and active.get(name)``: with no plugin the mapping must
    # be empty (one truth test), not a mapping of False flags
    monkeypatch.setenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")
    store = Store({"domain": {"x": 0}}, plugins=[])
    pm = store.plugin_manager
    assert pm.active == {}
    plugin = _CommitOnly()
    pm.register(plugin)
    assert pm.active == {"theus_state_commit": True}
    pm.register(Spy())
    assert pm.active == dict.fromkeys(
        ("theus_state_commit", "theus_state_conflict", "theus_state_rollback"), True
    )
    pm.unregister(plugin)
    assert set(pm.active) == {"theus_state_commit", "theus_state_conflict", "theus_state_rollback"}


class _FakeEntryPoint:
    name = "fake-plugin"

    def __init__(self, plugin: object) -> None:
        self.plugin = plugin

    def load(self) -> object:
        return self.plugin


def test_entry_point_plugins_load_unless_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy()
    monkeypatch.setattr(plugins_mod, "_entry_points", lambda group: (_FakeEntryPoint(spy),))
    monkeypatch.delenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    store = Store({"domain": {"x": 0}})
    assert store.plugin_manager.get_plugin("fake-plugin") is spy
    store.compare_and_swap(0, {"domain.x": 1})
    assert spy.events[0][0] == "commit"
    monkeypatch.setenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert Store().plugin_manager.get_plugin("fake-plugin") is None


def test_trace_hooks_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("THEUS_TRACE_HOOKS", "1")
    store = Store({"domain": {"x": 0}}, plugins=[Spy()])
    with caplog.at_level(logging.DEBUG, logger="theus_state.hooks"):
        store.compare_and_swap(0, {"domain.x": 1})
    assert any("theus_state_commit" in r.getMessage() for r in caplog.records)
