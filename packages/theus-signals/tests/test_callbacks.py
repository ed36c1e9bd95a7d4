"""hub.on: synchronous callbacks, unsubscribe handles, error isolation."""

from __future__ import annotations

import logging
import threading

import pytest

from theus_signals import SignalHub


def test_callback_receives_messages_until_unsubscribed():
    hub = SignalHub()
    seen = []
    handle = hub.on("orders.*", seen.append)
    assert handle.active and handle.pattern == "orders.*" and handle.callback == seen.append
    hub.publish("orders.created", 1)
    hub.publish("users.created", 2)
    handle()
    assert not handle.active
    handle()  # idempotent
    hub.publish("orders.created", 3)
    assert [(m.topic, m.payload) for m in seen] == [("orders.created", 1)]
    assert "removed" in repr(handle)


def test_callbacks_run_in_registration_order_in_the_publisher_thread():
    hub = SignalHub()
    order = []
    hub.on("*", lambda m: order.append(("a", threading.get_ident())))
    hub.on("*", lambda m: order.append(("b", threading.get_ident())))
    hub.publish("t")
    me = threading.get_ident()
    assert order == [("a", me), ("b", me)]


def test_raising_callback_is_logged_and_never_reaches_the_publisher(caplog):
    hub = SignalHub()
    after = []

    def boom(message):
        raise RuntimeError("callback broke")

    hub.on("*", boom)
    hub.on("*", after.append)
    with caplog.at_level(logging.ERROR, logger="theus_signals"):
        assert hub.publish("t", 1) == 2
    assert [m.payload for m in after] == [1]  # the next callback still ran
    assert "callback broke" in caplog.text and "'t'" in caplog.text


def test_callback_errors_raise_mode_propagates():
    hub = SignalHub(callback_errors="raise")
    sub = hub.subscribe()

    def boom(message):
        raise KeyError("nope")

    hub.on("*", boom)
    with pytest.raises(KeyError):
        hub.publish("t", 1)
    assert sub.try_recv().payload == 1  # queues already had it


def test_callback_may_publish_and_unsubscribe_reentrantly():
    hub = SignalHub()
    sub = hub.subscribe("echo")
    handles = []

    def echo(message):
        hub.publish("echo", message.payload)
        handles[0]()  # unsubscribe itself while being dispatched

    handles.append(hub.on("ping", echo))
    hub.publish("ping", 1)
    hub.publish("ping", 2)
    assert [m.payload for m in [sub.try_recv(), sub.try_recv()] if m] == [1]


def test_on_rejects_bad_input():
    hub = SignalHub()
    with pytest.raises(TypeError, match="callable"):
        hub.on("*", "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pattern"):
        hub.on(None, print)  # type: ignore[arg-type]


def test_callbacks_from_many_threads_see_every_message():
    hub = SignalHub()
    lock = threading.Lock()
    count = [0]

    def inc(message):
        with lock:
            count[0] += 1

    hub.on("*", inc)
    threads = [
        threading.Thread(target=lambda: [hub.publish("t", i) for i in range(2_000)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count[0] == 8_000
