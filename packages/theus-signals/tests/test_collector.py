"""OutboxCollector as a commit participant, driven like theus-state drives it."""

from __future__ import annotations

import sqlite3

import pytest

from theus_signals import (
    CommitParticipant,
    MemoryOutboxStore,
    OutboxCollector,
    OutboxError,
    OutboxMessage,
    SqliteOutboxStore,
)


class FakeTransaction:
    """The participant protocol as theus-state's transaction uses it: ``attach``; on
    commit every ``on_commit(version, conn)`` inside the commit (raising aborts it, then
    every participant gets ``on_rollback``); on rollback every ``on_rollback()``."""

    def __init__(self, conn=None, version=1, fail_after_participants=False):
        self.conn = conn
        self.version = version
        self.participants = []
        self.fail_after_participants = fail_after_participants

    def attach(self, participant):
        assert isinstance(participant, CommitParticipant)
        self.participants.append(participant)

    def commit(self):
        if self.conn is not None:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("INSERT INTO journal VALUES (?)", (self.version,))
        try:
            for p in self.participants:
                p.on_commit(self.version, self.conn)
            if self.fail_after_participants:
                raise RuntimeError("commit failed late")
        except BaseException:
            if self.conn is not None:
                self.conn.execute("ROLLBACK")
            self.rollback()
            raise
        if self.conn is not None:
            self.conn.execute("COMMIT")

    def rollback(self):
        for p in self.participants:
            p.on_rollback()


def test_commit_appends_the_batch_rollback_drops_it():
    store = MemoryOutboxStore()
    tx = FakeTransaction()
    collector = OutboxCollector(store)
    tx.attach(collector)
    sent = collector.add("orders.created", {"id": 1})
    collector.add(OutboxMessage("orders.paid", 2, key="paid-1"))
    assert isinstance(sent, OutboxMessage) and len(collector) == 2
    assert len(store) == 0  # nothing leaves before the commit
    tx.commit()
    assert [m.topic for m in store.pending()] == ["orders.created", "orders.paid"]
    assert collector.committed_version == 1 and len(collector) == 0

    tx2 = FakeTransaction(version=2)
    c2 = OutboxCollector(store)
    tx2.attach(c2)
    c2.add("orders.cancelled")
    tx2.rollback()
    assert len(store) == 2 and len(c2) == 0  # no phantom message


def test_rolled_back_collector_can_collect_again_for_a_retry():
    store = MemoryOutboxStore()
    collector = OutboxCollector(store)
    collector.add("t", 1, key="k")
    collector.on_rollback()  # e.g. a conflict
    collector.add("t", 1, key="k")
    collector.on_commit(7, None)
    assert [m.key for m in store.pending()] == ["k"]


def test_committed_collector_is_spent():
    collector = OutboxCollector(MemoryOutboxStore())
    collector.add("t")
    collector.on_commit(1, None)
    with pytest.raises(OutboxError, match="new OutboxCollector per transaction"):
        collector.add("t")
    with pytest.raises(OutboxError):
        collector.extend([OutboxMessage("t")])
    with pytest.raises(OutboxError):
        collector.on_commit(2, None)


def test_commit_failing_after_the_append_withdraws_the_batch():
    store = MemoryOutboxStore()
    store.append([OutboxMessage("t", 0, key="earlier")])
    tx = FakeTransaction(fail_after_participants=True)
    collector = OutboxCollector(store)
    tx.attach(collector)
    collector.add("t", 1, key="mine")
    with pytest.raises(RuntimeError):
        tx.commit()
    assert [m.key for m in store.pending()] == ["earlier"]


def test_empty_collector_commits_nothing_and_touches_no_connection():
    class NoConn:
        def __getattr__(self, name):
            raise AssertionError("the connection must not be used")

    collector = OutboxCollector(MemoryOutboxStore())
    collector.on_commit(3, NoConn())  # type: ignore[arg-type]
    assert collector.committed_version == 3


def test_add_rejects_mixed_arguments_and_bad_messages():
    with pytest.raises(TypeError, match="outbox store"):
        OutboxCollector([])  # type: ignore[arg-type]
    collector = OutboxCollector(MemoryOutboxStore())
    with pytest.raises(TypeError):
        collector.add(OutboxMessage("t"), payload=1)
    with pytest.raises(TypeError):
        collector.add("")
    with pytest.raises(OutboxError):
        collector.extend(["nope"])  # type: ignore[list-item]
    assert isinstance(collector.store, MemoryOutboxStore)


def journal_conn(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS journal (version INTEGER PRIMARY KEY)")
    return conn


def test_durable_commit_writes_outbox_and_state_in_one_sql_transaction(tmp_path):
    path = tmp_path / "app.db"
    conn = journal_conn(path)
    store = SqliteOutboxStore(path)
    try:
        ok = FakeTransaction(conn, version=1)
        c1 = OutboxCollector(store)
        ok.attach(c1)
        c1.add("t", "committed", key="a")
        ok.commit()

        bad = FakeTransaction(conn, version=2, fail_after_participants=True)
        c2 = OutboxCollector(store)
        bad.attach(c2)
        c2.add("t", "rolled back", key="b")
        with pytest.raises(RuntimeError):
            bad.commit()

        assert [m.key for m in store.pending()] == ["a"]
        assert [r[0] for r in conn.execute("SELECT version FROM journal")] == [1]
    finally:
        store.close()
        conn.close()


def test_durable_commit_aborts_when_a_payload_cannot_be_stored(tmp_path):
    path = tmp_path / "app.db"
    conn = journal_conn(path)
    store = SqliteOutboxStore(path)
    try:
        tx = FakeTransaction(conn, version=1)
        collector = OutboxCollector(store)
        tx.attach(collector)
        collector.add("t", object(), key="unserializable")
        with pytest.raises(OutboxError, match="unserializable"):
            tx.commit()
        assert len(store) == 0
        assert conn.execute("SELECT count(*) FROM journal").fetchone()[0] == 0
    finally:
        store.close()
        conn.close()


def test_sqlite_store_without_connection_appends_in_its_own_transaction(tmp_path):
    store = SqliteOutboxStore(tmp_path / "o.db")
    try:
        tx = FakeTransaction(conn=None, fail_after_participants=True)
        collector = OutboxCollector(store)
        tx.attach(collector)
        collector.add("t", 1, key="k")
        with pytest.raises(RuntimeError):
            tx.commit()
        assert len(store) == 0  # appended, then withdrawn by on_rollback
        ok = FakeTransaction(conn=None)
        c2 = OutboxCollector(store)
        ok.attach(c2)
        c2.add("t", 1, key="k")
        ok.commit()
        assert [m.key for m in store.pending()] == ["k"]
    finally:
        store.close()
