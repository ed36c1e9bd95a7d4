"""SqliteOutboxStore(writer=...): every write goes through the owner's connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from theus_signals import OutboxError, OutboxMessage, SqliteOutboxStore


def test_writes_go_through_the_writer(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    owner = sqlite3.connect(db, isolation_level=None)
    calls: list[str] = []

    def writer(fn: Callable[[sqlite3.Connection], int]) -> int:
        calls.append("write")
        owner.execute("BEGIN IMMEDIATE")
        try:
            n = fn(owner)
            owner.execute("COMMIT")
        except BaseException:
            owner.execute("ROLLBACK")
            raise
        return n

    store = SqliteOutboxStore(db, writer=writer)
    try:
        assert store.append([OutboxMessage("t", 1, key="a"), OutboxMessage("t", 2, key="b")]) == 2
        assert [m.key for m in store.pending()] == ["a", "b"]
        assert store.mark_delivered(["a"]) == 1
        assert store.discard(["b"]) == 1
        assert len(store) == 0
        assert calls == ["write"] * 3
    finally:
        store.close()
        owner.close()


def test_writer_on_another_file_is_refused(tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "other.db", isolation_level=None)

    def writer(fn: Callable[[sqlite3.Connection], int]) -> int:
        other.execute("BEGIN")
        try:
            return fn(other)
        finally:
            other.execute("ROLLBACK")

    store = SqliteOutboxStore(tmp_path / "mine.db", writer=writer)
    try:
        with pytest.raises(OutboxError, match="not this outbox store's database"):
            store.append([OutboxMessage("t", 1)])
        assert len(store) == 0
    finally:
        store.close()
        other.close()
