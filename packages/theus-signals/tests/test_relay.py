"""Relay: at-least-once delivery, order per topic, backoff, threads, asyncio, HubSink."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest

from theus_signals import (
    HubSink,
    MemoryOutboxStore,
    OutboxCollector,
    OutboxMessage,
    Relay,
    RetryPolicy,
    SignalHub,
    SqliteOutboxStore,
)

NO_WAIT = RetryPolicy(initial=0, jitter=0)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = MemoryOutboxStore() if request.param == "memory" else SqliteOutboxStore(tmp_path / "o.db")
    yield s
    s.close()


def test_run_once_delivers_in_append_order_and_marks_delivered(store):
    store.append([OutboxMessage("t", i, key=f"k{i}") for i in range(5)])
    got = []
    relay = Relay(store, got.append, batch=3)
    assert relay.run_once() == 3
    assert relay.run_once() == 2
    assert relay.run_once() == 0
    assert [m.key for m in got] == [f"k{i}" for i in range(5)]
    assert len(store) == 0


def test_failure_holds_back_its_topic_only_with_exponential_backoff(store):
    store.append(
        [
            OutboxMessage("a", 0, key="a0"),
            OutboxMessage("b", 0, key="b0"),
            OutboxMessage("a", 1, key="a1"),
            OutboxMessage("b", 1, key="b1"),
        ]
    )
    clock = Clock()
    broken = {"a0"}
    got, failures = [], []

    def sink(message):
        if message.key in broken:
            failures.append(clock.now)
            raise ConnectionError("a is down")
        got.append(message.key)

    relay = Relay(store, sink, retry=RetryPolicy(initial=1.0, factor=2.0, jitter=0), clock=clock)
    assert relay.run_once() == 2
    assert got == ["b0", "b1"]  # a1 waits behind a0; b is not held back
    assert relay.run_once() == 0 and len(failures) == 1  # not due: a0 not even tried
    clock.now += 1.0
    assert relay.run_once() == 0 and len(failures) == 2  # second attempt
    clock.now += 1.5
    assert relay.run_once() == 0 and len(failures) == 2  # backoff doubled to 2 s
    clock.now += 0.5
    broken.clear()
    assert relay.run_once() == 2
    assert got == ["b0", "b1", "a0", "a1"]  # per-topic order kept


def test_injected_sink_failures_deliver_every_committed_message_and_no_rolled_back_one(
    store,
):
    rng = random.Random(1234)
    committed, rolled_back = set(), set()
    for t in range(200):
        collector = OutboxCollector(store)
        for j in range(rng.randint(1, 5)):
            collector.add(f"topic{t % 7}", (t, j), key=f"{t}-{j}")
        keys = {m.key for m in collector.messages}
        if rng.random() < 0.25:
            collector.on_rollback()
            rolled_back |= keys
        else:
            collector.on_commit(t, None)
            committed |= keys
    delivered = []

    def flaky(message):
        if rng.random() < 0.2:
            raise ConnectionError("injected")
        delivered.append(message)

    relay = Relay(store, flaky, batch=37, retry=NO_WAIT)
    for _ in range(1_000):
        relay.run_once()
        if len(store) == 0:
            break
    assert len(store) == 0
    keys = {m.key for m in delivered}
    assert keys == committed and not keys & rolled_back
    for topic in {m.topic for m in delivered}:  # order per topic = commit order
        seq = [m.payload for m in delivered if m.topic == topic]
        assert seq == sorted(seq)


def test_sink_returning_an_awaitable_fails_under_run_once(store):
    store.append([OutboxMessage("t", 1)])

    async def async_sink(message):
        return None

    relay = Relay(store, async_sink, retry=NO_WAIT)
    assert relay.run_once() == 0
    assert len(store) == 1


def test_graceful_stop_mid_batch_marks_what_was_delivered(store):
    store.append([OutboxMessage("t", i, key=f"k{i}") for i in range(10)])
    got = []

    def sink(message):
        got.append(message.key)
        if len(got) == 4:
            relay.stop()  # from inside the pass: the current call finishes, then it ends

    relay = Relay(store, sink, batch=10)
    assert relay.run_once() == 4
    assert len(store) == 6
    assert [m.key for m in store.pending()] == [f"k{i}" for i in range(4, 10)]
    assert relay.run_once() == 6  # the stop ended that pass only


def test_background_thread_delivers_until_stopped(store):
    got = []
    relay = Relay(store, got.append, poll_interval=0.01)
    relay.start()
    try:
        assert relay.running
        with pytest.raises(RuntimeError, match="already running"):
            relay.start()
        for i in range(5):
            store.append([OutboxMessage("t", i)])
            relay.wake()
        deadline = time.monotonic() + 10
        while len(got) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        relay.stop(timeout=10)
    assert not relay.running
    assert [m.payload for m in got] == list(range(5))
    with Relay(store, got.append, poll_interval=0.01) as again:  # context manager: start/stop
        assert again.running
    assert not again.running


def test_stop_in_the_middle_of_a_slow_batch_loses_nothing(store):
    store.append([OutboxMessage("t", i, key=f"k{i}") for i in range(50)])
    got = []
    started = threading.Event()

    def slow(message):
        started.set()
        time.sleep(0.005)
        got.append(message.key)

    relay = Relay(store, slow, batch=50)
    relay.start()
    started.wait(10)
    relay.stop(timeout=10)
    assert 0 < len(got) < 50
    remaining = [m.key for m in store.pending(limit=100)]
    assert got + remaining == [f"k{i}" for i in range(50)]  # nothing lost, nothing twice


def test_relay_thread_survives_a_store_error():
    class FlakyStore(MemoryOutboxStore):
        calls = 0

        def pending(self, limit=100, *, exclude_topics=()):
            FlakyStore.calls += 1
            if FlakyStore.calls == 1:
                raise OSError("disk hiccup")
            return super().pending(limit, exclude_topics=exclude_topics)

    store = FlakyStore()
    store.append([OutboxMessage("t", 1)])
    got = []
    relay = Relay(store, got.append, poll_interval=0.01)
    relay.start()
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    relay.stop(timeout=10)
    assert [m.payload for m in got] == [1]


def test_arun_once_awaits_async_sinks(store):
    store.append([OutboxMessage("t", i) for i in range(3)])
    got = []

    async def sink(message):
        await asyncio.sleep(0)
        got.append(message.payload)

    relay = Relay(store, sink)
    assert asyncio.run(relay.arun_once()) == 3
    assert got == [0, 1, 2] and len(store) == 0


def test_astart_and_astop(store):
    got = []

    async def main():
        relay = Relay(store, got.append, poll_interval=0.01)
        task = relay.astart()
        assert relay.running and isinstance(task, asyncio.Task)
        for i in range(3):
            store.append([OutboxMessage("t", i)])
        for _ in range(1_000):
            if len(got) == 3:
                break
            await asyncio.sleep(0.01)
        await relay.astop()
        assert not relay.running

    asyncio.run(asyncio.wait_for(main(), 30))
    assert [m.payload for m in got] == [0, 1, 2]


def test_hub_sink_publishes_payload_on_topic(store):
    hub = SignalHub()
    sub = hub.subscribe("orders.*")
    store.append([OutboxMessage("orders.created", {"id": 7})])
    relay = Relay(store, HubSink(hub))
    assert relay.run_once() == 1
    msg = sub.try_recv()
    assert (msg.topic, msg.payload) == ("orders.created", {"id": 7})
    hub.close()
    store.append([OutboxMessage("orders.created", {"id": 8})])
    assert relay.run_once() == 0  # a closed hub is a delivery failure: kept for retry
    assert len(store) == 1
    assert "HubSink" in repr(HubSink(hub))


def test_retry_policy():
    policy = RetryPolicy(initial=0.5, factor=3, max_delay=10, jitter=0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.5, 4.5, 10]
    assert policy.delay(100_000) == 10  # no float overflow after many attempts
    jittered = RetryPolicy(initial=1, jitter=0.2)
    assert all(0.8 <= jittered.delay(1) <= 1.2 for _ in range(100))
    for bad in (
        {"initial": -1},
        {"factor": 0.5},
        {"max_delay": 0.01},
        {"jitter": 1},
    ):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)


def test_relay_bad_arguments():
    store = MemoryOutboxStore()
    with pytest.raises(TypeError):
        Relay(store, "sink")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Relay(store, print, batch=0)
    with pytest.raises(ValueError):
        Relay(store, print, poll_interval=0)
