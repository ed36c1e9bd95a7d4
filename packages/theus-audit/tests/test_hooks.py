"""Hooks: violation, threshold warning, rule registration; plugin loading and tracing."""

from __future__ import annotations

import logging
from importlib import metadata
from typing import Any, ClassVar

import pluggy
import pytest

from theus_audit import (
    Auditor,
    AuditWarning,
    RuleRegistry,
    Violation,
    default_registry,
    hookimpl,
    make_plugin_manager,
)
from theus_audit import hookspecs as specs

RECIPE = {
    "level": "B",
    "threshold_max": 1,
    "threshold_min": 2,
    "processes": {"p": {"inputs": [{"field": "x", "min": 0}]}},
}


class Recorder:
    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.warnings: list[dict[str, Any]] = []

    @hookimpl
    def audit_violation(self, violation: Violation) -> None:
        self.violations.append(violation)

    @hookimpl
    def audit_threshold_warning(
        self, key: str, process: str, count: int, threshold_min: int
    ) -> None:
        self.warnings.append(
            {"key": key, "process": process, "count": count, "threshold_min": threshold_min}
        )


def test_hookimpl_marker_and_project_name() -> None:
    assert specs.PROJECT_NAME == "theus_audit"
    assert specs.hookimpl is hookimpl
    a = Auditor()
    assert isinstance(a.plugin_manager, pluggy.PluginManager)
    assert a.plugin_manager.project_name == "theus_audit"


def test_violation_and_threshold_warning_hooks() -> None:
    rec = Recorder()
    a = Auditor(RECIPE, plugins=[rec])
    assert a.plugin_manager.is_registered(rec)
    a.check_inputs("p", {"x": -1})
    assert [(v.key, v.count, v.action) for v in rec.violations] == [("p:inputs:x:min", 1, "warn")]
    assert rec.warnings == []
    with pytest.warns(AuditWarning):
        a.check_inputs("p", {"x": -1})
    assert rec.violations[-1].action == "block"
    assert rec.warnings == [
        {"key": "p:inputs:x:min", "process": "p", "count": 2, "threshold_min": 2}
    ]
    a.check_inputs("p", {"x": 1})  # pass: no hook call
    assert len(rec.violations) == 2
    a.record_failure("p", ValueError("v"))
    assert rec.violations[-1].key == "p:error"
    assert rec.violations[-1].phase == "error"


def test_a_raising_hook_is_logged_not_propagated(caplog: pytest.LogCaptureFixture) -> None:
    class Bad:
        @hookimpl
        def audit_violation(self, violation: Violation) -> None:
            raise RuntimeError("plugin bug")

        @hookimpl
        def audit_threshold_warning(
            self, key: str, process: str, count: int, threshold_min: int
        ) -> None:
            raise RuntimeError("plugin bug 2")

    a = Auditor({**RECIPE, "threshold_min": 1}, plugins=[Bad()])
    with caplog.at_level(logging.ERROR, logger="theus_audit"), pytest.warns(AuditWarning):
        d = a.check_inputs("p", {"x": -1})
    assert d.action == "warn"
    assert a.counts()["p:inputs:x:min"] == 1
    messages = [r.getMessage() for r in caplog.records]
    assert "audit_violation hook failed for p:inputs:x:min" in messages
    assert "audit_threshold_warning hook failed for p:inputs:x:min" in messages


def test_register_rules_hook_is_called_with_the_registry() -> None:
    calls: list[RuleRegistry] = []

    class Reg:
        @hookimpl
        def audit_register_rules(self, registry: RuleRegistry) -> None:
            calls.append(registry)
            registry.register("positive", lambda _: lambda v: v > 0)

    a = Auditor(
        {"level": "C", "processes": {"p": {"inputs": [{"field": "x", "positive": True}]}}},
        plugins=[Reg()],
    )
    assert calls == [a.registry]
    assert "positive" in a.registry
    assert a.check_inputs("p", {"x": 0}).action == "warn"


class _EntryPointPlugin:
    @hookimpl
    def audit_register_rules(self, registry: RuleRegistry) -> None:
        registry.register("from_entry_point", lambda _: lambda v: v == "ep")


class _FakeDist:
    metadata: ClassVar[dict[str, str]] = {"name": "fake-audit-plugin"}
    version = "1.0"


class _FakeEntryPoint:
    name = "fake"
    group = "theus_audit"
    value = "fake:plugin"
    dist = _FakeDist()

    def load(self) -> object:
        return _EntryPointPlugin()


@pytest.fixture
def fake_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    def distributions() -> list[Any]:
        class Dist:
            entry_points: ClassVar[list[Any]] = [_FakeEntryPoint()]
            metadata: ClassVar[dict[str, str]] = {"name": "fake-audit-plugin"}

        return [Dist()]

    monkeypatch.setattr(metadata, "distributions", distributions)
    monkeypatch.delenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", raising=False)


@pytest.mark.usefixtures("fake_entry_point")
def test_entry_point_plugins_are_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "from_entry_point" in default_registry()
    recipe = {"processes": {"p": {"inputs": [{"field": "x", "from_entry_point": 1}]}}}
    a = Auditor(recipe)
    assert a.check_inputs("p", {"x": "ep"}).action == "allow"
    monkeypatch.setenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "from_entry_point" not in default_registry()
    assert make_plugin_manager().get_plugins() == set()


def test_trace_hooks_logs_hook_calls(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("THEUS_TRACE_HOOKS", "1")
    a = Auditor(RECIPE, plugins=[Recorder()])
    with caplog.at_level(logging.DEBUG, logger="theus_audit.hooks"):
        a.check_inputs("p", {"x": -1})
    assert any("audit_violation" in r.getMessage() for r in caplog.records)
