"""Hooks: publish, callback error, deliver, delivery failure; plugin loading options."""

from __future__ import annotations

import logging

import pluggy

from theus_signals import (
    MemoryOutboxStore,
    OutboxMessage,
    Relay,
    RetryPolicy,
    SignalHub,
    hookimpl,
)
from theus_signals import _plugins as plugins_module


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def signals_publish(self, hub, message, receivers):
        self.calls.append(("publish", message.topic, message.payload, receivers))

    @hookimpl
    def signals_callback_error(self, message, callback, error):
        self.calls.append(("callback_error", message.topic, type(error).__name__))

    @hookimpl
    def signals_deliver(self, relay, message):
        self.calls.append(("deliver", message.key))

    @hookimpl
    def signals_delivery_failure(self, message, error, attempt, retry_in):
        self.calls.append(("failure", message.key, str(error), attempt, retry_in >= 0))


def test_publish_hook_sees_every_publish_with_receiver_count():
    rec = Recorder()
    hub = SignalHub(plugins=[rec])
    assert hub.plugin_manager.is_registered(rec)
    hub.publish("nobody", 0)
    hub.subscribe("a")
    hub.on("a", lambda m: None)
    hub.publish("a", 1)
    assert rec.calls == [("publish", "nobody", 0, 0), ("publish", "a", 1, 2)]


def test_plugin_registered_later_and_unregistered_is_honoured():
    hub = SignalHub()
    hub.subscribe()
    hub.publish("before", 0)
    rec = Recorder()
    hub.plugin_manager.register(rec)
    hub.publish("during", 1)
    hub.plugin_manager.unregister(rec)
    hub.publish("after", 2)
    assert [c[1] for c in rec.calls] == ["during"]


def test_callback_error_hook():
    rec = Recorder()
    hub = SignalHub(plugins=[rec])

    def boom(message):
        raise ValueError("bad")

    hub.on("x", boom)
    hub.publish("x", 1)
    assert ("callback_error", "x", "ValueError") in rec.calls


def test_deliver_and_delivery_failure_hooks():
    rec = Recorder()
    store = MemoryOutboxStore()
    store.append([OutboxMessage("t", 1, key="k1")])
    attempts = []

    def flaky(message):
        attempts.append(message.key)
        if len(attempts) == 1:
            raise ConnectionError("down")

    relay = Relay(store, flaky, retry=RetryPolicy(initial=0, jitter=0), plugins=[rec])
    assert relay.run_once() == 0
    assert relay.run_once() == 1
    assert rec.calls == [("failure", "k1", "down", 1, True), ("deliver", "k1")]


def test_entry_point_plugins_load_unless_disabled(monkeypatch):
    rec = Recorder()

    class FakeEntryPoint:
        name = "fake-plugin"

        def load(self):
            return rec

    monkeypatch.setattr(plugins_module, "_entry_points", lambda: (FakeEntryPoint(),))
    monkeypatch.delenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    hub = SignalHub()
    assert hub.plugin_manager.get_plugin("fake-plugin") is rec
    monkeypatch.setenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert SignalHub().plugin_manager.get_plugin("fake-plugin") is None


def test_trace_hooks_env_logs_hook_calls(monkeypatch, caplog):
    monkeypatch.setenv("THEUS_TRACE_HOOKS", "1")
    hub = SignalHub(plugins=[Recorder()])
    with caplog.at_level(logging.DEBUG, logger="theus_signals.hooks"):
        hub.publish("traced", 1)
    assert "signals_publish" in caplog.text


def test_hookimpl_marker_belongs_to_the_theus_signals_project():
    assert isinstance(hookimpl, pluggy.HookimplMarker)
    assert hookimpl.project_name == "theus_signals"
