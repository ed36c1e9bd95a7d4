"""The store contract, for both MemoryOutboxStore and SqliteOutboxStore."""

from __future__ import annotations

import pickle
import threading

import pytest

from theus_signals import (
    MemoryOutboxStore,
    OutboxError,
    OutboxMessage,
    OutboxStore,
    SqliteOutboxStore,
)


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        s = MemoryOutboxStore()
    else:
        s = SqliteOutboxStore(tmp_path / "outbox.db")
    yield s
    s.close()


def msgs(n, topic="t", start=0):
    return [OutboxMessage(topic, {"i": i}, key=f"{topic}-{i}") for i in range(start, start + n)]


def test_outbox_message_keys_and_immutability():
    a, b = OutboxMessage("t"), OutboxMessage("t", 1)
    assert a.key != b.key and len(a.key) == 32 and a.payload is None
    c = OutboxMessage("t", [1], key="k")
    assert c == OutboxMessage("t", [1], key="k") and c != OutboxMessage("t", [2], key="k")
    assert hash(c) == hash("k")
    with pytest.raises(AttributeError):
        c.topic = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del c.key
    assert pickle.loads(pickle.dumps(c)) == c
    assert "key='k'" in repr(c)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("",), {}), ((None,), {}), ((1,), {}), (("t",), {"key": ""}), (("t",), {"key": 5})],
)
def test_outbox_message_bad_input(args, kwargs):
    with pytest.raises(TypeError):
        OutboxMessage(*args, **kwargs)


def test_store_satisfies_the_protocol(store):
    assert isinstance(store, OutboxStore)


def test_append_pending_mark_delivered_len(store):
    assert len(store) == 0 and store.pending() == []
    assert store.append(msgs(5)) == 5
    assert len(store) == 5
    pending = store.pending(limit=3)
    assert [m.key for m in pending] == ["t-0", "t-1", "t-2"]  # oldest first
    assert pending[0] == OutboxMessage("t", {"i": 0}, key="t-0")
    assert store.mark_delivered(["t-0", "t-1", "missing"]) == 2
    assert store.mark_delivered(["t-0"]) == 0
    assert len(store) == 3
    assert [m.key for m in store.pending()] == ["t-2", "t-3", "t-4"]


def test_append_is_idempotent_per_key_even_after_delivery(store):
    batch = msgs(3)
    assert store.append(batch) == 3
    assert store.append(batch) == 0  # a retried commit
    store.mark_delivered(["t-0"])
    assert store.append(batch) == 0  # delivered keys are remembered too
    assert len(store) == 2
    dup = [OutboxMessage("t", 1, key="same"), OutboxMessage("t", 2, key="same")]
    assert store.append(dup) == 1
    assert [m.payload for m in store.pending() if m.key == "same"] == [1]


def test_pending_excludes_topics_and_keeps_global_order(store):
    store.append(msgs(2, "a") + msgs(2, "b") + msgs(2, "a", start=2))
    assert [m.key for m in store.pending(exclude_topics={"a"})] == ["b-0", "b-1"]
    assert [m.key for m in store.pending(limit=3, exclude_topics=["b"])] == ["a-0", "a-1", "a-2"]
    assert [m.key for m in store.pending(limit=2)] == ["a-0", "a-1"]


def test_discard_withdraws_pending_only_and_allows_reappend(store):
    store.append(msgs(3))
    store.mark_delivered(["t-0"])
    assert store.discard(["t-0", "t-1"]) == 1  # a delivered message is not withdrawn
    assert [m.key for m in store.pending()] == ["t-2"]
    assert store.append(msgs(2)) == 1  # t-1 may come back (its commit is retried)


def test_purge_delivered_forgets_keys(store):
    store.append(msgs(2))
    store.mark_delivered(["t-0"])
    assert store.purge_delivered() == 1
    assert store.append(msgs(1)) == 1  # t-0 is new again
    assert len(store) == 2


def test_bad_input(store):
    with pytest.raises(TypeError):
        store.append(OutboxMessage("t"))  # type: ignore[arg-type]
    with pytest.raises(OutboxError):
        store.append(["not a message"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        store.pending(limit=0)
    with pytest.raises(TypeError):
        store.pending(limit="3")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.mark_delivered("t-0")
    assert len(store) == 0
    assert store.append([]) == 0


def test_concurrent_appends_and_marks(store):
    def write(w):
        for b in range(20):
            store.append(msgs(10, topic=f"w{w}", start=b * 10))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 800
    pending = store.pending(limit=1000)
    for w in range(4):
        keys = [m.key for m in pending if m.topic == f"w{w}"]
        assert keys == [f"w{w}-{i}" for i in range(200)]
    assert store.mark_delivered(m.key for m in pending) == 800
    assert len(store) == 0
