"""SignalHub: publishing, routing, receiving, closing, bad input, threads."""

from __future__ import annotations

import fnmatch
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from theus_signals import Closed, Message, SignalHub, SignalsError


def drain(sub):
    out = []
    while (msg := sub.try_recv()) is not None:
        out.append(msg)
    return out


def test_publish_returns_receiver_count_including_callbacks():
    hub = SignalHub()
    assert hub.publish("a.b", 1) == 0
    hub.subscribe("a.*")
    hub.subscribe("*")
    hub.subscribe("x")
    hub.on("a.b", lambda m: None)
    assert hub.publish("a.b", 1) == 3
    assert hub.send("x", 2) == 2  # send is an alias
    assert hub.send("zzz") == 1


def test_messages_carry_topic_payload_seq_in_order():
    hub = SignalHub()
    sub = hub.subscribe()
    payload = object()
    for i in range(50):
        hub.publish(f"t.{i % 3}", i)
    hub.publish("obj", payload)
    msgs = drain(sub)
    assert [m.payload for m in msgs[:-1]] == list(range(50))
    assert msgs[-1].payload is payload  # passed by reference, never copied
    assert [m.topic for m in msgs[:3]] == ["t.0", "t.1", "t.2"]
    seqs = [m.seq for m in msgs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert isinstance(msgs[0], Message)
    topic, value, seq = msgs[0]
    assert (topic, value, seq) == (msgs[0].topic, msgs[0].payload, msgs[0].seq)


def test_default_payload_is_none():
    hub = SignalHub()
    sub = hub.subscribe()
    hub.publish("ping")
    assert sub.recv(timeout=0).payload is None


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("*", "a.b.c", True),
        ("a.*", "a.b.c", True),  # '*' crosses dots
        ("a.*", "a", False),
        ("a.*.c", "a.x.y.c", True),
        ("a.?", "a.b", True),
        ("a.?", "a.bc", False),
        ("a.[bc]", "a.c", True),
        ("a.[!bc]", "a.c", False),
        ("domain.sig_done", "domain.sig_done", True),
        ("domain.sig_done", "domain.sig_done2", False),
        ("Domain.*", "domain.x", False),  # case-sensitive everywhere
    ],
)
def test_glob_routing(pattern, topic, matches):
    hub = SignalHub()
    sub = hub.subscribe(pattern)
    seen = []
    hub.on(pattern, seen.append)
    hub.publish(topic, 1)
    assert (sub.try_recv() is not None) is matches
    assert bool(seen) is matches


_topic_chars = st.text(alphabet="ab.xy_", min_size=1, max_size=8)
_pattern_chars = st.text(alphabet="ab.*?xy_", min_size=1, max_size=6)


@given(pattern=_pattern_chars, topics=st.lists(_topic_chars, max_size=20))
def test_routing_agrees_with_fnmatchcase(pattern, topics):
    hub = SignalHub()
    sub = hub.subscribe(pattern, capacity=100)
    for topic in topics:
        hub.publish(topic, topic)
    got = [m.payload for m in drain(sub)]
    assert got == [t for t in topics if fnmatch.fnmatchcase(t, pattern)]


def test_route_cache_follows_subscribe_and_unsubscribe():
    hub = SignalHub()
    first = hub.subscribe("a.*")
    assert hub.publish("a.b", 1) == 1  # route for "a.b" now cached
    second = hub.subscribe("a.b")
    assert hub.publish("a.b", 2) == 2  # the new subscription is routed
    first.close()
    assert hub.publish("a.b", 3) == 1
    assert [m.payload for m in drain(second)] == [2, 3]
    assert [m.payload for m in drain_closed(first)] == [1, 2]
    handle = hub.on("a.*", lambda m: None)
    assert hub.publish("a.b", 4) == 2
    handle()
    assert hub.publish("a.b", 5) == 1


def drain_closed(sub):
    out = []
    while True:
        try:
            msg = sub.try_recv()
        except Closed:
            return out
        assert msg is not None
        out.append(msg)


def test_route_cache_is_bounded():
    hub = SignalHub()
    sub = hub.subscribe("*", capacity=10)
    for i in range(10_000):
        hub.publish(f"topic.{i}", i)
    assert len(hub._routes) <= 4096
    assert len(sub) == 10


def test_try_recv_and_recv_timeout():
    hub = SignalHub()
    sub = hub.subscribe()
    assert sub.try_recv() is None
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        sub.recv(timeout=0.05)
    assert time.monotonic() - t0 >= 0.04
    with pytest.raises(TimeoutError):
        sub.recv(timeout=0)
    hub.publish("x", 1)
    assert sub.recv(timeout=0).payload == 1


def test_recv_waits_for_a_publisher_thread():
    hub = SignalHub()
    sub = hub.subscribe()
    timer = threading.Timer(0.05, hub.publish, args=("late", 42))
    timer.start()
    try:
        assert sub.recv(timeout=10).payload == 42
    finally:
        timer.join()


def test_close_drains_then_ends_iteration():
    hub = SignalHub()
    sub = hub.subscribe()
    for i in range(5):
        hub.publish("t", i)
    hub.close()
    assert hub.closed and sub.closed
    assert [m.payload for m in sub] == list(range(5))
    with pytest.raises(Closed):
        sub.recv()
    with pytest.raises(Closed):
        sub.try_recv()
    assert list(sub) == []


def test_publish_subscribe_on_after_close_raise():
    hub = SignalHub()
    hub.subscribe("a")
    hub.close()
    hub.close()  # idempotent
    for topic in ("a", "never-routed"):
        with pytest.raises(SignalsError, match="closed"):
            hub.publish(topic, 1)
    with pytest.raises(SignalsError):
        hub.subscribe()
    with pytest.raises(SignalsError):
        hub.on("*", print)


def test_publish_after_close_raises_for_callback_only_route():
    hub = SignalHub()
    hub.on("a", lambda m: None)
    hub.publish("a")
    hub.close()
    with pytest.raises(SignalsError):
        hub.publish("a")


def test_close_wakes_a_blocked_receiver_thread():
    hub = SignalHub()
    sub = hub.subscribe()
    result = []

    def consume():
        result.extend(m.payload for m in sub)
        result.append("ended")

    worker = threading.Thread(target=consume)
    worker.start()
    hub.publish("t", 1)
    time.sleep(0.05)
    hub.close()
    worker.join(5)
    assert not worker.is_alive()
    assert result == [1, "ended"]


def test_subscription_close_keeps_queued_messages_and_stops_new_ones():
    hub = SignalHub()
    with hub.subscribe() as sub:
        hub.publish("t", 1)
    assert sub.closed
    assert hub.publish("t", 2) == 0
    assert [m.payload for m in sub] == [1]
    sub.close()  # idempotent


def test_subscription_close_wakes_its_waiting_receiver():
    hub = SignalHub()
    sub = hub.subscribe()
    timer = threading.Timer(0.05, sub.close)
    timer.start()
    with pytest.raises(Closed):
        sub.recv(timeout=10)
    timer.join()


def test_context_manager_closes_hub():
    with SignalHub() as hub:
        sub = hub.subscribe()
    assert hub.closed and sub.closed


@pytest.mark.parametrize("topic", [None, 1, b"x", ("a",)])
def test_bad_topic_type(topic):
    hub = SignalHub()
    with pytest.raises(TypeError, match="topic"):
        hub.publish(topic, 1)


def test_empty_topic_and_unhashable_topic():
    hub = SignalHub()
    with pytest.raises(ValueError, match="topic"):
        hub.publish("", 1)
    with pytest.raises(TypeError):
        hub.publish(["a"], 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"capacity": 0}, ValueError),
        ({"capacity": -1}, ValueError),
        ({"capacity": 1.5}, TypeError),
        ({"capacity": True}, TypeError),
        ({"overflow": "drop"}, ValueError),
        ({"block_timeout": -1}, ValueError),
        ({"callback_errors": "ignore"}, ValueError),
    ],
)
def test_bad_hub_arguments(kwargs, error):
    with pytest.raises(error):
        SignalHub(**kwargs)


def test_bad_subscribe_arguments():
    hub = SignalHub()
    with pytest.raises(TypeError, match="pattern"):
        hub.subscribe(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pattern"):
        hub.subscribe("")
    with pytest.raises(ValueError):
        hub.subscribe(capacity=0)
    with pytest.raises(ValueError):
        hub.subscribe(overflow="nope")
    sub = hub.subscribe()
    with pytest.raises(ValueError):
        sub.recv(timeout=-1)


def test_subscription_properties_and_repr():
    hub = SignalHub(capacity=8, overflow="error")
    sub = hub.subscribe("a.*")
    assert (sub.pattern, sub.capacity, sub.overflow) == ("a.*", 8, "error")
    other = hub.subscribe(capacity=3, overflow="lag")
    assert (other.capacity, other.overflow) == (3, "lag")
    hub.publish("a.b")
    assert len(sub) == 1
    assert "a.*" in repr(sub) and "SignalHub" in repr(hub)


def test_concurrent_publishers_keep_per_publisher_order_and_unique_seqs():
    hub = SignalHub(capacity=100_000)
    sub = hub.subscribe()
    n, writers = 5_000, 4

    def publish(w):
        for i in range(n):
            hub.publish(f"w{w}", i)

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    msgs = drain(sub)
    assert len(msgs) == n * writers
    seqs = [m.seq for m in msgs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for w in range(writers):
        assert [m.payload for m in msgs if m.topic == f"w{w}"] == list(range(n))


def test_concurrent_subscribe_and_publish_never_loses_a_routed_message():
    hub = SignalHub(capacity=100_000)
    stop = threading.Event()
    subs = []

    def churn():
        while not stop.is_set():
            s = hub.subscribe("x.*")
            subs.append(s)
            s.close()

    worker = threading.Thread(target=churn)
    worker.start()
    steady = hub.subscribe("x.*")
    try:
        for i in range(20_000):
            hub.publish("x.y", i)
    finally:
        stop.set()
        worker.join()
    assert [m.payload for m in drain(steady)] == list(range(20_000))
