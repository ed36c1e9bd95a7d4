"""Overflow policies: lag (exact Lagged counts), error (all-or-nothing), block (lossless)."""

from __future__ import annotations

import pickle
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theus_signals import Lagged, Overflow, SignalHub, SignalsError


def test_lag_drops_oldest_and_reports_exact_missed_count():
    hub = SignalHub(capacity=4)  # "lag" is the default
    sub = hub.subscribe()
    for i in range(10):
        assert hub.publish("t", i) == 1
    with pytest.raises(Lagged) as info:
        sub.recv()
    assert info.value.missed == 6
    assert [sub.recv(timeout=0).payload for _ in range(4)] == [6, 7, 8, 9]  # then continues
    assert sub.try_recv() is None
    hub.publish("t", 10)
    assert sub.try_recv().payload == 10  # no second Lagged


def test_lagged_raised_by_try_recv_and_iteration_then_stream_continues():
    hub = SignalHub(capacity=2)
    sub = hub.subscribe()
    for i in range(5):
        hub.publish("t", i)
    with pytest.raises(Lagged) as info:
        sub.try_recv()
    assert info.value.missed == 3
    for i in range(5, 10):
        hub.publish("t", i)
    hub.close()
    with pytest.raises(Lagged) as info:
        next(iter(sub))
    assert info.value.missed == 5  # 3, 4 (retained before) and 5, 6, 7 were dropped
    assert [m.payload for m in sub] == [8, 9]


def test_lag_is_per_subscription():
    hub = SignalHub(capacity=2)
    slow = hub.subscribe()
    roomy = hub.subscribe(capacity=100)
    for i in range(10):
        hub.publish("t", i)
    assert [roomy.recv(timeout=0).payload for _ in range(10)] == list(range(10))
    with pytest.raises(Lagged) as info:
        slow.recv()
    assert info.value.missed == 8


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 6),
    ops=st.lists(st.sampled_from(["pub", "recv"]), max_size=60),
)
def test_lag_matches_a_model(capacity, ops):
    """A bounded ring that remembers how many it dropped since the last receive."""
    hub = SignalHub(capacity=capacity)
    sub = hub.subscribe()
    model, missed, counter = [], 0, 0
    for op in ops:
        if op == "pub":
            hub.publish("t", counter)
            model.append(counter)
            counter += 1
            if len(model) > capacity:
                model.pop(0)
                missed += 1
        elif missed:
            with pytest.raises(Lagged) as info:
                sub.try_recv()
            assert info.value.missed == missed
            missed = 0
        else:
            msg = sub.try_recv()
            if model:
                assert msg.payload == model.pop(0)
            else:
                assert msg is None


def test_error_policy_raises_and_delivers_to_nobody():
    hub = SignalHub(capacity=2, overflow="error")
    full = hub.subscribe()
    other = hub.subscribe(capacity=10, overflow="lag")
    seen = []
    hub.on("*", seen.append)
    hub.publish("t", 1)
    hub.publish("t", 2)
    with pytest.raises(Overflow) as info:
        hub.publish("t", 3)
    err = info.value
    assert (err.topic, err.pattern, err.capacity, err.timeout) == ("t", "*", 2, None)
    assert isinstance(err, SignalsError)
    assert [m.payload for m in seen] == [1, 2]  # no callback ran for the refused message
    assert len(other) == 2  # nor did any other queue get it
    full.recv()
    assert hub.publish("t", 4) == 3
    assert [full.recv().payload, other.recv().payload] == [2, 1]


def test_block_policy_delivers_all_100k_to_a_slow_consumer_thread():
    hub = SignalHub(capacity=64, overflow="block")
    sub = hub.subscribe()
    total = 100_000
    received = []

    def consume():
        for i, msg in enumerate(sub):
            received.append(msg.payload)
            if i % 10_000 == 0:
                time.sleep(0.01)  # slow: the publisher must wait, not drop

    worker = threading.Thread(target=consume)
    worker.start()
    for i in range(total):
        hub.publish("t", i)
    hub.close()
    worker.join(60)
    assert not worker.is_alive()
    assert received == list(range(total))


def test_block_with_several_publisher_threads_is_lossless():
    hub = SignalHub(capacity=8, overflow="block")
    sub = hub.subscribe()
    writers, n = 4, 5_000

    def publish(w):
        for i in range(n):
            hub.publish(f"w{w}", i)

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    got = [sub.recv(timeout=30) for _ in range(writers * n)]
    for t in threads:
        t.join()
    for w in range(writers):
        assert [m.payload for m in got if m.topic == f"w{w}"] == list(range(n))


def test_block_timeout_raises_overflow_and_delivers_nothing():
    hub = SignalHub(capacity=1, overflow="block", block_timeout=0.05)
    sub = hub.subscribe()
    other = hub.subscribe(capacity=10, overflow="lag")
    hub.publish("t", 1)
    t0 = time.monotonic()
    with pytest.raises(Overflow) as info:
        hub.publish("t", 2)
    assert time.monotonic() - t0 >= 0.04
    assert info.value.timeout == 0.05
    assert len(other) == 1 and len(sub) == 1


def wait_until_blocked(hub):
    deadline = time.monotonic() + 30
    while hub._nblocked == 0:
        assert time.monotonic() < deadline, "the publisher never blocked"
        time.sleep(0.001)


def test_blocked_publisher_is_released_by_subscription_close():
    hub = SignalHub(capacity=1, overflow="block")
    sub = hub.subscribe()
    other = hub.subscribe(capacity=10)
    hub.publish("t", 1)
    result = []
    worker = threading.Thread(target=lambda: result.append(hub.publish("t", 2)))
    worker.start()
    wait_until_blocked(hub)
    sub.close()
    worker.join(30)
    assert result == [2]  # counted on the route it started with
    assert [m.payload for m in sub] == [1]  # the closed queue did not get it
    assert [other.recv(timeout=0).payload for _ in range(2)] == [1, 2]


def test_blocked_publisher_fails_when_hub_closes():
    hub = SignalHub(capacity=1, overflow="block")
    sub = hub.subscribe()
    hub.publish("t", 1)
    timer = threading.Timer(0.05, hub.close)
    timer.start()
    with pytest.raises(SignalsError, match="closed"):
        hub.publish("t", 2)
    timer.join()
    assert [m.payload for m in sub] == [1]


def test_blocked_publisher_resumes_after_receive():
    hub = SignalHub(capacity=1, overflow="block")
    sub = hub.subscribe()
    hub.publish("t", 1)
    timer = threading.Timer(0.05, sub.recv)
    timer.start()
    hub.publish("t", 2)
    timer.join()
    assert sub.recv(timeout=0).payload == 2


def test_errors_pickle_with_their_data():
    lagged = pickle.loads(pickle.dumps(Lagged(3, "a.*")))
    assert (lagged.missed, lagged.pattern) == (3, "a.*")
    overflow = pickle.loads(pickle.dumps(Overflow("t", "*", 4, 0.5)))
    assert (overflow.topic, overflow.capacity, overflow.timeout) == ("t", 4, 0.5)
