"""SqliteOutboxStore specifics: durability, codec, foreign connections, bad input."""

from __future__ import annotations

import pickle
import sqlite3

import pytest

from theus_signals import OutboxError, OutboxMessage, SqliteOutboxStore


@pytest.fixture
def closing():
    """Register stores and connections to close after the test (3.13 warns otherwise)."""
    opened = []

    def register(obj):
        opened.append(obj)
        return obj

    yield register
    for obj in reversed(opened):
        obj.close()


def test_reopen_keeps_pending_and_delivered(tmp_path):
    path = tmp_path / "o.db"
    with SqliteOutboxStore(path) as store:
        store.append([OutboxMessage("t", i, key=f"k{i}") for i in range(3)])
        store.mark_delivered(["k0"])
    with SqliteOutboxStore(path) as store:
        assert [(m.key, m.payload) for m in store.pending()] == [("k1", 1), ("k2", 2)]
        assert store.append([OutboxMessage("t", 0, key="k0")]) == 0
        mode = store._conn().execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_json_payload_roundtrip_and_serialization_error_writes_nothing(tmp_path, closing):
    store = closing(SqliteOutboxStore(tmp_path / "o.db"))
    store.append([OutboxMessage("t", {"a": [1, 2.5, None, "é"]}, key="ok")])
    assert store.pending()[0].payload == {"a": [1, 2.5, None, "é"]}
    batch = [OutboxMessage("t", 1, key="fine"), OutboxMessage("t", object(), key="bad")]
    with pytest.raises(OutboxError, match="'bad'") as info:
        store.append(batch)
    assert (info.value.key, info.value.topic) == ("bad", "t")
    assert [m.key for m in store.pending()] == ["ok"]  # the batch is all or nothing


def test_custom_codec(tmp_path, closing):
    store = closing(SqliteOutboxStore(tmp_path / "o.db", dumps=pickle.dumps, loads=pickle.loads))
    store.append([OutboxMessage("t", (1, {2, 3}), key="k")])
    assert store.pending()[0].payload == (1, {2, 3})


def test_undecodable_row_names_its_key(tmp_path, closing):
    store = closing(SqliteOutboxStore(tmp_path / "o.db"))
    store.append([OutboxMessage("t", 1, key="k")])
    store._conn().execute("UPDATE theus_outbox SET payload = '{broken'")
    with pytest.raises(OutboxError, match="'k'"):
        store.pending()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="table"):
        SqliteOutboxStore(tmp_path / "o.db", table="x; DROP TABLE y")
    with pytest.raises(ValueError, match="synchronous"):
        SqliteOutboxStore(tmp_path / "o.db", synchronous="sometimes")
    with pytest.raises(OutboxError, match="cannot open"):
        SqliteOutboxStore(tmp_path / "missing-dir" / "o.db")
    (tmp_path / "junk.db").write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(OutboxError, match="cannot use"):
        SqliteOutboxStore(tmp_path / "junk.db")


def test_closed_store_raises(tmp_path, closing):
    store = closing(SqliteOutboxStore(tmp_path / "o.db"))
    store.close()
    store.close()
    with pytest.raises(OutboxError, match="closed"):
        store.append([OutboxMessage("t")])
    with pytest.raises(OutboxError, match="closed"):
        len(store)


def test_memory_database(tmp_path, closing):
    store = closing(SqliteOutboxStore(":memory:"))
    store.append([OutboxMessage("t", 1)])
    assert len(store) == 1


def journal(path):
    """A stand-in for theus-state's SqliteJournal: its own connection and table."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS journal (version INTEGER PRIMARY KEY, delta TEXT)")
    return conn


def test_append_in_commits_with_the_callers_transaction(tmp_path, closing):
    path = tmp_path / "app.db"
    conn = closing(journal(path))
    store = closing(SqliteOutboxStore(path, table="outbox"))
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO journal VALUES (1, 'delta')")
    assert store.append_in(conn, [OutboxMessage("t", 1, key="a")]) == 1
    assert len(store) == 0  # not visible before the caller commits
    conn.execute("COMMIT")
    assert [m.key for m in store.pending()] == ["a"]

    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO journal VALUES (2, 'delta')")
    store.append_in(conn, [OutboxMessage("t", 2, key="b")])
    conn.execute("ROLLBACK")
    assert [m.key for m in store.pending()] == ["a"]  # rolled back together


def test_append_in_creates_the_table_in_a_foreign_database(tmp_path, closing):
    path = tmp_path / "journal.db"
    conn = closing(journal(path))
    store = closing(SqliteOutboxStore(path, table="theus_outbox_x"))
    conn.execute("DROP TABLE theus_outbox_x")  # as if the journal file predates the store
    conn.execute("BEGIN")
    store.append_in(conn, [OutboxMessage("t", 1, key="k")])
    conn.execute("COMMIT")
    assert [m.key for m in store.pending()] == ["k"]
    fresh = closing(sqlite3.connect(tmp_path / "other.db"))
    store.ensure_schema(fresh)
    tables = {r[0] for r in fresh.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "theus_outbox_x" in tables


def test_append_in_legacy_transaction_mode(tmp_path, closing):
    path = tmp_path / "app.db"
    conn = closing(sqlite3.connect(path))  # Python's default: implicit BEGIN before DML
    store = closing(SqliteOutboxStore(path))
    store.append_in(conn, [OutboxMessage("t", 1, key="k")])
    assert conn.in_transaction and len(store) == 0
    conn.commit()
    assert len(store) == 1


def test_append_in_refuses_another_database_or_autocommit(tmp_path, closing):
    store = closing(SqliteOutboxStore(tmp_path / "outbox.db"))
    other = closing(journal(tmp_path / "journal.db"))
    other.execute("BEGIN")
    with pytest.raises(OutboxError, match="not this outbox store's database"):
        store.append_in(other, [OutboxMessage("t", 1)])
    other.execute("ROLLBACK")
    with pytest.raises(OutboxError, match="not this"):
        store.append_in(closing(sqlite3.connect(":memory:")), [OutboxMessage("t", 1)])
    same = closing(journal(tmp_path / "outbox.db"))
    with pytest.raises(OutboxError, match="open transaction"):
        store.append_in(same, [OutboxMessage("t", 1)])
    with pytest.raises(TypeError):
        store.append_in("conn", [OutboxMessage("t", 1)])  # type: ignore[arg-type]
    assert store.append_in(same, []) == 0
    assert len(store) == 0
