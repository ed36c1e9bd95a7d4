"""SqliteOutboxStore: a durable outbox in one SQLite table (stdlib sqlite3, WAL mode).

Rules / theory of operation:

* Rows: ``(id AUTOINCREMENT, key UNIQUE, topic, payload, created_at, delivered_at)``.
  Pending = ``delivered_at IS NULL``; order = ``id`` (append order, never reused).
  ``INSERT OR IGNORE`` on the unique key makes an append idempotent.
* Own connection (``check_same_thread=False``, guarded by ``_lock``, autocommit mode with
  explicit ``BEGIN IMMEDIATE``/``COMMIT``): one SQL transaction per ``append``, per
  ``mark_delivered`` and per ``discard``. WAL with ``synchronous=NORMAL`` survives a
  process crash at every commit; ``synchronous="FULL"`` also survives power loss.
* Foreign connection (:meth:`append_in`): the rows are written through the caller's
  connection, inside the caller's open transaction, and never committed here; the caller's
  COMMIT makes them durable together with its own rows (e.g. theus-state's journal), its
  ROLLBACK drops them. The connection must be opened on this store's database file (checked
  once per connection) and the table is created on it if needed, inside that transaction.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from ._outbox import OutboxMessage, check_keys, check_limit, check_messages
from .exceptions import OutboxError

__all__ = ["SqliteOutboxStore"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
_MEMO_LIMIT = 64

Dumps = Callable[[Any], str | bytes]
Loads = Callable[[str | bytes], Any]


def _json_dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _json_loads(data: str | bytes) -> Any:
    return json.loads(data)


def _main_file(conn: sqlite3.Connection) -> str:
    for _seq, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return str(file or "")
    return ""


class SqliteOutboxStore:
    """Durable outbox store in the SQLite database at ``path``.

    ``table`` names its table (so it can live in another component's database, such as
    theus-state's journal). Payloads are stored with ``dumps``/``loads`` (default: compact
    JSON, so tuples come back as lists; pass e.g. ``pickle.dumps``/``pickle.loads`` for
    arbitrary trusted objects). A payload that cannot be serialized fails the whole
    append with :class:`OutboxError` naming its key, and nothing is written.

    ``writer``: when another component owns the file's write path (theus-state's journal
    commits in a tight loop would starve a second writing connection), pass
    ``writer(fn)`` that runs ``fn(conn)`` inside an open transaction on a connection to
    the same file and commits it; every write of this store (append, mark_delivered,
    discard, purge) then goes through it. Reads keep using the store's own connection.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "theus_outbox",
        synchronous: str = "NORMAL",
        timeout: float = 30.0,
        dumps: Dumps | None = None,
        loads: Loads | None = None,
        writer: Callable[[Callable[[sqlite3.Connection], int]], int] | None = None,
    ) -> None:
        if not isinstance(table, str) or not _IDENT.match(table):
            raise ValueError(f"table must be a plain SQL identifier, not {table!r}")
        sync = str(synchronous).upper()
        if sync not in _SYNC_MODES:
            raise ValueError(f"synchronous must be one of {_SYNC_MODES}, not {synchronous!r}")
        raw = os.fspath(path)
        self._in_memory = raw in ("", ":memory:")
        self._path = raw if self._in_memory else str(Path(raw).resolve())
        self._table = table
        self._dumps: Dumps = dumps or _json_dumps
        self._loads: Loads = loads or _json_loads
        self._lock = threading.Lock()
        self._writer = writer
        self._foreign: dict[int, tuple[sqlite3.Connection, bool]] = {}
        t = table
        self._sql_insert = (
            f"INSERT OR IGNORE INTO {t} (key, topic, payload, created_at) VALUES (?, ?, ?, ?)"
        )
        self._sql_pending = (
            f"SELECT key, topic, payload FROM {t} WHERE delivered_at IS NULL ORDER BY id LIMIT ?"
        )
        self._sql_pending_excluding = (
            f"SELECT key, topic, payload FROM {t} WHERE delivered_at IS NULL"
            " AND topic NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?"
        )
        self._sql_mark = f"UPDATE {t} SET delivered_at = ? WHERE key = ? AND delivered_at IS NULL"
        self._sql_discard = f"DELETE FROM {t} WHERE key = ? AND delivered_at IS NULL"
        self._sql_count = f"SELECT count(*) FROM {t} WHERE delivered_at IS NULL"
        try:
            conn = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox database {self._path!r}: {exc}") from exc
        self._db: sqlite3.Connection | None = conn
        try:
            if not self._in_memory:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={sync}")
            self.ensure_schema(conn)
        except sqlite3.Error as exc:
            conn.close()
            self._db = None
            raise OutboxError(f"cannot use outbox database {self._path!r}: {exc}") from exc

    # -- properties ------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self._path

    @property
    def table(self) -> str:
        return self._table

    def __repr__(self) -> str:
        return f"<SqliteOutboxStore {self._path!r} table={self._table!r}>"

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxError(f"outbox store {self._path!r} is closed")
        return self._db

    # -- schema ----------------------------------------------------------------------------
    def ensure_schema(self, conn: sqlite3.Connection | None = None) -> None:
        """Create this store's table and index if missing, through ``conn`` (default: the
        store's own connection). On a foreign connection with an open transaction the DDL
        joins that transaction and is not committed here."""
        t = self._table
        target = self._conn() if conn is None else conn
        target.execute(
            f"CREATE TABLE IF NOT EXISTS {t} ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " key TEXT NOT NULL UNIQUE,"
            " topic TEXT NOT NULL,"
            " payload BLOB,"
            " created_at REAL NOT NULL,"
            " delivered_at REAL)"
        )
        target.execute(
            f"CREATE INDEX IF NOT EXISTS {t}_pending ON {t} (id) WHERE delivered_at IS NULL"
        )

    # -- writing ---------------------------------------------------------------------------
    def _rows(self, batch: list[OutboxMessage]) -> list[tuple[str, str, Any, float]]:
        now = time.time()
        dumps = self._dumps
        rows = []
        for message in batch:
            try:
                data = dumps(message.payload)
            except Exception as exc:
                raise OutboxError(
                    f"cannot serialize the payload of outbox message {message.key!r}"
                    f" (topic {message.topic!r}): {exc}",
                    key=message.key,
                    topic=message.topic,
                ) from exc
            rows.append((message.key, message.topic, data, now))
        return rows

    def _write(self, sql: str, rows: list[Any]) -> int:
        if self._writer is not None:

            def run(conn: sqlite3.Connection) -> int:
                self._check_foreign(conn)
                before = conn.total_changes
                conn.executemany(sql, rows)
                return conn.total_changes - before

            return self._writer(run)
        with self._lock:
            conn = self._conn()
            before = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return conn.total_changes - before

    def append(self, messages: Iterable[OutboxMessage]) -> int:
        """Append one atomic batch (its own SQL transaction); returns how many were new."""
        batch = check_messages(messages)
        if not batch:
            return 0
        return self._write(self._sql_insert, self._rows(batch))

    def append_in(self, conn: sqlite3.Connection, messages: Iterable[OutboxMessage]) -> int:
        """Write a batch through ``conn``, inside the caller's open transaction, without
        committing; returns how many rows were new. ``conn`` must be opened on this store's
        database file (else :class:`OutboxError`: the batch could not commit atomically
        with the caller's rows, nor be seen by this store)."""
        batch = check_messages(messages)
        if not batch:
            return 0
        rows = self._rows(batch)
        self._check_foreign(conn)
        if not conn.in_transaction and (
            conn.isolation_level is None or getattr(conn, "autocommit", None) is True
        ):
            raise OutboxError(
                "append_in needs an open transaction on the connection (BEGIN first):"
                " in autocommit mode the rows would commit on their own"
            )
        self.ensure_schema(conn)
        before = conn.total_changes
        conn.executemany(self._sql_insert, rows)
        return conn.total_changes - before

    def _check_foreign(self, conn: sqlite3.Connection) -> None:
        if not isinstance(conn, sqlite3.Connection):
            raise TypeError(f"conn must be a sqlite3.Connection, not {type(conn).__name__}")
        with self._lock:
            memo = self._foreign.get(id(conn))
        if memo is not None and memo[0] is conn:
            same = memo[1]
        else:
            other = _main_file(conn)
            same = self._same_file(other)
            with self._lock:
                if len(self._foreign) >= _MEMO_LIMIT:
                    self._foreign.clear()
                self._foreign[id(conn)] = (conn, same)
        if not same:
            raise OutboxError(
                f"the connection's database {_main_file(conn) or ':memory:'!r} is not this"
                f" outbox store's database {self._path!r}: open SqliteOutboxStore on the same"
                " file so that its messages commit atomically with that connection's"
            )

    def _same_file(self, other: str) -> bool:
        if self._in_memory or not other:
            return False
        try:
            return Path(self._path).samefile(other)
        except OSError:
            return os.path.realpath(self._path) == os.path.realpath(other)

    def mark_delivered(self, keys: Iterable[str]) -> int:
        now = time.time()
        rows = [(now, key) for key in check_keys(keys)]
        return self._write(self._sql_mark, rows) if rows else 0

    def discard(self, keys: Iterable[str]) -> int:
        rows = [(key,) for key in check_keys(keys)]
        return self._write(self._sql_discard, rows) if rows else 0

    def purge_delivered(self, older_than: float | None = None) -> int:
        """Delete delivered rows (delivered more than ``older_than`` seconds ago, if
        given); their idempotency protection ends. Returns how many."""
        sql = f"DELETE FROM {self._table} WHERE delivered_at IS NOT NULL"
        if older_than is None:
            return self._write(sql, [()])
        return self._write(sql + " AND delivered_at < ?", [(time.time() - older_than,)])

    # -- reading ---------------------------------------------------------------------------
    def pending(
        self, limit: int = 100, *, exclude_topics: Collection[str] = ()
    ) -> list[OutboxMessage]:
        check_limit(limit)
        with self._lock:
            conn = self._conn()
            if exclude_topics:
                cur = conn.execute(
                    self._sql_pending_excluding, (json.dumps(list(exclude_topics)), limit)
                )
            else:
                cur = conn.execute(self._sql_pending, (limit,))
            rows = cur.fetchall()
        loads = self._loads
        out = []
        for key, topic, data in rows:
            try:
                payload = loads(data)
            except Exception as exc:
                raise OutboxError(
                    f"cannot deserialize the payload of outbox message {key!r}"
                    f" (topic {topic!r}): {exc}",
                    key=key,
                    topic=topic,
                ) from exc
            out.append(OutboxMessage(topic, payload, key))
        return out

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._conn().execute(self._sql_count).fetchone()
        return int(count)

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the store's own connection (idempotent)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._foreign.clear()

    def __enter__(self) -> SqliteOutboxStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
