"""Every engine hook fires; plugins reach the leaves; entry points load."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest

import theus_audit
import theus_flux
import theus_signals
import theus_state
from theus import TheusEngine, hookimpl, hookspecs, process


class Spy:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    @hookimpl
    def theus_process_before(self, engine, process, kwargs):  # type: ignore[no-untyped-def]
        self.events.append(("before", process.name, dict(kwargs)))

    @hookimpl
    def theus_process_after(self, engine, process, result, version):  # type: ignore[no-untyped-def]
        self.events.append(("after", process.name, result, version))

    @hookimpl
    def theus_process_error(self, engine, process, error, declared):  # type: ignore[no-untyped-def]
        self.events.append(("error", process.name, type(error).__name__, declared))

    @hookimpl
    def theus_commit(self, engine, version, paths):  # type: ignore[no-untyped-def]
        self.events.append(("commit", version, paths))

    @hookimpl
    def theus_rollback(self, engine, version, paths, error):  # type: ignore[no-untyped-def]
        self.events.append(("rollback", version, paths, type(error).__name__))

    @hookimpl
    def theus_workflow_step(self, engine, step_path, name, phase, error):  # type: ignore[no-untyped-def]
        self.events.append(("step", step_path, name, phase))

    @hookimpl
    def theus_audit_violation(self, engine, violation):  # type: ignore[no-untyped-def]
        self.events.append(("violation", violation.key))


@process(inputs=["domain.n"], outputs=["domain.n"], errors=["ValueError"])
def bump(ctx, by: int = 1):  # type: ignore[no-untyped-def]
    if by < 0:
        raise ValueError("negative")
    if by == 0:
        raise RuntimeError("zero")
    return ctx.domain.n + by


def make(*plugins: object, **kw: Any) -> TheusEngine:
    e = TheusEngine({"domain": {"n": 0}}, plugins=plugins, **kw)
    e.register(bump)
    return e


def test_process_commit_and_rollback_hooks() -> None:
    spy = Spy()
    e = make(spy)
    e.run("bump", by=2)
    with pytest.raises(ValueError):
        e.run("bump", by=-1)
    with pytest.raises(RuntimeError):
        e.run("bump", by=0)
    assert spy.events == [
        ("before", "bump", {"by": 2}),
        ("commit", 1, ("domain.n",)),
        ("after", "bump", 2, 1),
        ("before", "bump", {"by": -1}),
        ("rollback", 1, (), "ValueError"),
        ("error", "bump", "ValueError", True),
        ("before", "bump", {"by": 0}),
        ("rollback", 1, (), "RuntimeError"),
        ("violation", "bump:error"),  # undeclared errors are audit failures
        ("error", "bump", "RuntimeError", False),
    ]


def test_workflow_step_and_audit_violation_hooks() -> None:
    spy = Spy()
    recipe = {"processes": {"bump": {"inputs": [{"field": "by", "max": 5, "level": "C"}]}}}
    e = make(spy, audit=recipe)
    e.run_workflow("steps:\n  - bump\n")
    e.run("bump", by=9)  # C level: counted and reported, not refused
    steps = [ev for ev in spy.events if ev[0] == "step"]
    assert steps == [("step", "steps[0]", "bump", "start"), ("step", "steps[0]", "bump", "end")]
    assert ("violation", "bump:inputs:by:max") in spy.events


class LeafSpy:
    """One object implementing hooks of every leaf: the engine registers it everywhere."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    @theus_state.hookimpl
    def theus_state_commit(self) -> None:
        self.seen.add("state")

    @theus_signals.hookimpl
    def signals_publish(self) -> None:
        self.seen.add("signals")

    @theus_audit.hookimpl
    def audit_violation(self) -> None:
        self.seen.add("audit")

    @theus_flux.hookimpl
    def flux_step_start(self) -> None:
        self.seen.add("flux")


def test_engine_plugins_reach_every_leaf() -> None:
    @process(outputs=["domain.sig_x"])
    def emit(ctx):  # type: ignore[no-untyped-def]
        ctx.domain.sig_x = 1

    spy = LeafSpy()
    recipe = {"processes": {"bump": {"inputs": [{"field": "by", "max": 5, "level": "C"}]}}}
    e = make(spy, audit=recipe)
    e.register(emit)
    e.run_workflow("steps:\n  - emit\n")
    e.run("bump", by=6)
    assert spy.seen == {"state", "signals", "audit", "flux"}


def test_relays_are_only_registered_while_someone_listens() -> None:
    e = make()
    assert not e.store.plugin_manager.active.get("theus_state_commit")
    spy = Spy()
    e.plugin_manager.register(spy)
    assert e.store.plugin_manager.active.get("theus_state_commit")
    e.run("bump")
    assert ("commit", 1, ("domain.n",)) in spy.events
    e.plugin_manager.unregister(spy)
    assert not e.store.plugin_manager.active.get("theus_state_commit")


def test_trace_hooks(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("THEUS_TRACE_HOOKS", "1")
    e = make(Spy())
    with caplog.at_level(logging.DEBUG, logger="theus.hooks"):
        e.run("bump")
    assert any("theus_process_before" in r.getMessage() for r in caplog.records)


@pytest.mark.entry_points
def test_entry_point_plugin_is_loaded_and_fires(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("theus_example_plugin") is None:
        if os.environ.get("THEUS_EXAMPLE_PLUGIN") == "required":
            pytest.fail("the tox env must install tests/example_plugin")
        pytest.skip("tests/example_plugin is not installed in this environment")
    import theus_example_plugin

    monkeypatch.delenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    plugin = theus_example_plugin.plugin
    plugin.events.clear()
    e = make()
    assert e.plugin_manager.get_plugin("example") is plugin
    e.run("bump")
    assert plugin.events == [("state_commit", 1), ("after", "bump")]
    monkeypatch.setenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert make().plugin_manager.get_plugin("example") is None


def test_every_engine_hook_has_a_test() -> None:
    """Meta-test: each hookspec of theus.hookspecs is implemented in some test module."""
    names = [n for n in dir(hookspecs) if n.startswith("theus_")]
    assert names
    sources = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    missing = [n for n in names if not re.search(rf"def {n}\(", sources)]
    assert missing == [], f"hooks without a test implementing them: {missing}"


def test_fork_keeps_plugins_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from theus import _plugins as engine_plugins

    loaded = Spy()

    class EntryPoint:
        name = "spy"

        def load(self) -> object:
            return loaded

    monkeypatch.delenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.setattr(engine_plugins, "_entry_points", lambda group: (EntryPoint(),))
    given = Spy()
    e = make(given)
    e.run("bump")
    fork = e.fork()  # entry-point plugins are loaded again, not registered twice
    fork.run("bump")
    assert fork.plugin_manager.get_plugin("spy") is loaded
    assert fork.plugin_manager.is_registered(given)
    assert [ev[0] for ev in loaded.events].count("after") == 2
    assert [ev[0] for ev in given.events].count("after") == 2
