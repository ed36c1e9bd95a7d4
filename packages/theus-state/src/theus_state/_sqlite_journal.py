"""SqliteJournal: a crash-safe delta journal in one SQLite file (stdlib sqlite3, WAL).

Rules / theory of operation:
- One SQL transaction per commit: ``BEGIN IMMEDIATE`` → commit participants write through
  the same connection (outbox rows, workflow positions) → one ``theus_commits`` row (the
  delta: written paths and their new values) → ``COMMIT``. After a crash at any point
  either all of a commit exists or none of it. ``synchronous`` is FULL by default
  (durable against power loss in WAL mode; NORMAL is durable against process crashes).
- Every ``snapshot_every`` versions the whole state is written too, in the same SQL
  transaction, so loading replays at most ``snapshot_every`` deltas.
- ``batch()`` (group commit) opens one SQL transaction for many store commits; each one
  is a SAVEPOINT inside it, so a failing commit rolls back alone. Commits in a batch are
  durable when the batch exits.
- One writer per file: opening for writing takes an exclusive ``flock`` on
  ``<file>.lock`` (released by the OS if the process dies); a second writer gets
  :class:`JournalLocked`. ``readonly=True`` opens without the lock, for inspection.
- ``theus_meta.schema_version`` is checked on open: a newer schema, a foreign SQLite file
  or a corrupt file each raise :class:`JournalFormatError`.
- All use of the connection happens under one re-entrant lock; between ``begin()`` and
  ``commit()``/``rollback()`` the lock stays held so readers never see a commit in flight.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ._codec import _DELETE_MARK, DELETE_TAG, Codec, default_codec
from ._frozen import EMPTY_NODE, Node, node_of, out
from ._journal import CommitRecord, Entry, overlaps, requester_label
from ._paths import Zone, parse_path
from ._transaction import DELETED
from ._tree import tree_delete, tree_get, tree_set
from .exceptions import JournalError, JournalFormatError, JournalLocked, VersionNotFound

__all__ = ["SCHEMA_VERSION", "SqliteJournal"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS theus_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS theus_commits (
    version INTEGER PRIMARY KEY, ts REAL NOT NULL, requester TEXT, delta BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS theus_snapshots (
    version INTEGER PRIMARY KEY, ts REAL NOT NULL, state BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS theus_heavy (
    path TEXT PRIMARY KEY, shm_name TEXT NOT NULL, version INTEGER NOT NULL);
"""
_SYNC = {"OFF", "NORMAL", "FULL", "EXTRA"}


class SqliteJournal:
    """A durable journal in ``path`` (created if missing)."""

    durable = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        keep_last: int | None = None,
        snapshot_every: int = 1000,
        synchronous: str = "FULL",
        codec: Codec | None = None,
        readonly: bool = False,
        busy_timeout: float = 10.0,
    ) -> None:
        self.path = str(Path(path))
        if snapshot_every < 1:
            raise ValueError(f"snapshot_every must be >= 1, got {snapshot_every}")
        if keep_last is not None and keep_last < 1:
            raise ValueError(f"keep_last must be >= 1 or None, got {keep_last}")
        sync = synchronous.upper()
        if sync not in _SYNC:
            raise ValueError(f"synchronous must be one of {sorted(_SYNC)}, got {synchronous!r}")
        self.keep_last = keep_last
        self.snapshot_every = snapshot_every
        self.synchronous = sync
        self.readonly = readonly
        self.codec = codec or default_codec
        self._lock = threading.RLock()
        self._batch = 0
        self._in_tx = False
        self._lock_fd: int | None = None
        if not readonly:
            self._take_file_lock()
        try:
            self._conn = self._connect(busy_timeout)
        except BaseException:
            self._release_file_lock()
            raise

    # -- opening -----------------------------------------------------------------------
    def _take_file_lock(self) -> None:
        lock_path = self.path + ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise JournalLocked(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _release_file_lock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        if self.readonly and not Path(self.path).exists():
            raise JournalError("no such journal file", path=self.path)
        uri = f"file:{self.path}?mode=ro" if self.readonly else f"file:{self.path}"
        conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=busy_timeout
        )
        try:
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if "theus_meta" in tables:
                row = conn.execute(
                    "SELECT value FROM theus_meta WHERE key='schema_version'"
                ).fetchone()
                found = int(row[0]) if row else 0
                if found > SCHEMA_VERSION:
                    raise JournalFormatError(
                        f"journal schema version {found} is newer than this theus-state "
                        f"supports ({SCHEMA_VERSION}); upgrade theus-state",
                        path=self.path,
                    )
                if found < 1:
                    raise JournalFormatError("journal has no schema version", path=self.path)
            elif any(not t.startswith("theus_") for t in tables):
                raise JournalFormatError(
                    f"not a theus journal (a foreign SQLite database: tables {sorted(tables)})",
                    path=self.path,
                )
            elif self.readonly:
                raise JournalFormatError("not a theus journal (no journal tables)", path=self.path)
            if not self.readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={self.synchronous}")
                conn.executescript(_SCHEMA)
                conn.execute(
                    "INSERT OR IGNORE INTO theus_meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise JournalFormatError(
                f"not a usable SQLite journal ({exc})", path=self.path
            ) from None
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    # -- state encoding ----------------------------------------------------------------------
    def _encode_root(self, root: Node[str, Any]) -> bytes:
        return self.codec.dumps(self.codec.encode_value("<state>", root))

    def _decode_root(self, blob: bytes) -> Node[str, Any]:
        data = self.codec.decode(self.codec.loads(blob))
        root = EMPTY_NODE
        for layer, value in data.items():
            root = tree_set(root, (layer,), node_of(value))
        return root

    def _apply_delta(
        self, root: Node[str, Any], delta: bytes, previous_signals: list[str]
    ) -> tuple[Node[str, Any], list[str], dict[str, Any]]:
        for text in previous_signals:
            with contextlib.suppress(KeyError):
                root = tree_delete(root, parse_path(text).keys)
        signals: list[str] = []
        changes: dict[str, Any] = {}
        for text, raw in self.codec.loads(delta):
            value = self.codec.decode(raw)
            p = parse_path(text)
            if value is _DELETE_MARK:
                changes[text] = DELETED
                with contextlib.suppress(KeyError):
                    root = tree_delete(root, p.keys)
            else:
                frozen = node_of(value)
                changes[text] = out(frozen)
                root = tree_set(root, p.keys, frozen)
                if p.zone is Zone.SIGNAL:
                    signals.append(text)
        return root, signals, changes

    # -- Journal protocol ----------------------------------------------------------------------
    def is_empty(self) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM theus_snapshots LIMIT 1").fetchone()
            return row is None

    def bootstrap(self, version: int, root: Node[str, Any]) -> None:
        blob = self._encode_root(root)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO theus_snapshots VALUES (?, ?, ?)", (version, time.time(), blob)
                )
                self._conn.execute(
                    "INSERT OR REPLACE INTO theus_meta VALUES ('base_version', ?)", (str(version),)
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _bounds(self) -> tuple[int, int]:
        row = self._conn.execute(
            "SELECT (SELECT MIN(version) FROM theus_snapshots),"
            " (SELECT MAX(version) FROM theus_commits),"
            " (SELECT MAX(version) FROM theus_snapshots)"
        ).fetchone()
        if row[0] is None:
            raise JournalError("journal is empty", path=self.path)
        oldest = row[0]
        latest = max(v for v in (row[1], row[2]) if v is not None)
        return oldest, latest

    def _root_from(self, version: int) -> tuple[Node[str, Any], list[str], int]:
        """Root at ``version`` and the SIGNAL paths written by that commit."""
        oldest, latest = self._bounds()
        if not oldest <= version <= latest:
            pruned = version < oldest and self._base_version() < oldest
            raise VersionNotFound(version, oldest, latest, pruned=pruned)
        snap = self._conn.execute(
            "SELECT version, state FROM theus_snapshots WHERE version <= ?"
            " ORDER BY version DESC LIMIT 1",
            (version,),
        ).fetchone()
        root = self._decode_root(snap[1])
        signals = self._snapshot_signal_paths(snap[0])
        for (delta,) in self._conn.execute(
            "SELECT delta FROM theus_commits WHERE version > ? AND version <= ? ORDER BY version",
            (snap[0], version),
        ).fetchall():
            root, signals, _ = self._apply_delta(root, delta, signals)
        return root, signals, version

    def _snapshot_signal_paths(self, version: int) -> list[str]:
        row = self._conn.execute(
            "SELECT delta FROM theus_commits WHERE version = ?", (version,)
        ).fetchone()
        if row is None:
            return []
        return [t for t, _raw in self.codec.loads(row[0]) if parse_path(t).zone is Zone.SIGNAL]

    def _base_version(self) -> int:
        row = self._conn.execute("SELECT value FROM theus_meta WHERE key='base_version'").fetchone()
        return int(row[0]) if row else 0

    def restore(self) -> tuple[int, Node[str, Any], dict[str, Any]]:
        with self._lock:
            _oldest, latest = self._bounds()
            root, signals, version = self._root_from(latest)
        values = {text: out(tree_get(root, parse_path(text).keys)) for text in signals}
        return version, root, values

    def begin(self) -> sqlite3.Connection:
        if self.readonly:
            raise JournalError("journal is open read-only", path=self.path)
        self._lock.acquire()
        try:
            if self._batch:
                self._conn.execute("SAVEPOINT theus_commit")
            else:
                self._conn.execute("BEGIN IMMEDIATE")
            self._in_tx = True
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    def append(
        self,
        version: int,
        ts: float,
        requester: Any,
        writes: Mapping[str, Entry],
        root: Node[str, Any],
    ) -> None:
        enc = self.codec.encode_value
        delta = self.codec.dumps(
            [[t, DELETE_TAG if v is DELETED else enc(t, v)] for t, (_p, v) in writes.items()]
        )
        conn = self._conn
        conn.execute(
            "INSERT INTO theus_commits VALUES (?, ?, ?, ?)",
            (version, ts, requester_label(requester), delta),
        )
        if version % self.snapshot_every == 0:
            conn.execute(
                "INSERT OR REPLACE INTO theus_snapshots VALUES (?, ?, ?)",
                (version, ts, self._encode_root(root)),
            )
            if self.keep_last is not None:
                self._prune_aligned(version, self.keep_last)

    def commit(self) -> None:
        try:
            if self._batch:
                self._conn.execute("RELEASE theus_commit")
            else:
                self._conn.execute("COMMIT")
        finally:
            self._in_tx = False
            self._lock.release()

    def rollback(self) -> None:
        try:
            if self._batch:
                self._conn.execute("ROLLBACK TO theus_commit")
                self._conn.execute("RELEASE theus_commit")
            else:
                self._conn.execute("ROLLBACK")
        finally:
            self._in_tx = False
            self._lock.release()

    def root_at(self, version: int) -> Node[str, Any]:
        with self._lock:
            return self._root_from(version)[0]

    def records(self, path: str | None = None) -> Iterator[CommitRecord]:
        wanted = parse_path(path).text if path is not None else None
        with self._lock:
            rows = self._conn.execute(
                "SELECT version, ts, requester, delta FROM theus_commits ORDER BY version"
            ).fetchall()
        for version, ts, requester, delta in rows:
            pairs = self.codec.loads(delta)
            if wanted is not None and not any(overlaps(wanted, t) for t, _ in pairs):
                continue
            changes: dict[str, Any] = {}
            for t, raw in pairs:
                value = self.codec.decode(raw)
                changes[t] = DELETED if value is _DELETE_MARK else out(node_of(value))
            yield CommitRecord(version, ts, requester, changes)

    def _prune_aligned(self, latest: int, keep_last: int) -> int:
        """Drop history older than the newest snapshot at or before ``latest-keep_last+1``."""
        row = self._conn.execute(
            "SELECT MAX(version) FROM theus_snapshots WHERE version <= ?",
            (latest - keep_last + 1,),
        ).fetchone()
        base = row[0]
        if base is None:
            return 0
        cur = self._conn.execute("DELETE FROM theus_commits WHERE version < ?", (base,))
        self._conn.execute("DELETE FROM theus_snapshots WHERE version < ?", (base,))
        return cur.rowcount

    def prune(self, keep_last: int) -> int:
        """Keep exactly the last ``keep_last`` versions reachable by ``root_at`` (a fresh
        snapshot is written at the new oldest version); returns commits removed."""
        if keep_last < 1:
            raise ValueError(f"keep_last must be >= 1, got {keep_last}")
        with self._lock:
            oldest, latest = self._bounds()
            cut = latest - keep_last + 1
            if cut <= oldest:
                return 0
            root = self._root_from(cut)[0]
            blob = self._encode_root(root)
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO theus_snapshots VALUES (?, ?, ?)",
                    (cut, time.time(), blob),
                )
                removed = self._conn.execute(
                    "DELETE FROM theus_commits WHERE version < ?", (cut,)
                ).rowcount
                self._conn.execute("DELETE FROM theus_snapshots WHERE version < ?", (cut,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return removed

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: store commits inside share one SQL transaction (durable at exit)."""
        with self._lock:
            outer = self._batch == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._batch += 1
            try:
                yield
            finally:
                self._batch -= 1
                if outer:
                    self._conn.execute("COMMIT")

    def record_heavy(self, path: str, shm_name: str, version: int) -> None:
        with self._lock:
            if self._batch:
                self._conn.execute(
                    "INSERT OR REPLACE INTO theus_heavy VALUES (?, ?, ?)", (path, shm_name, version)
                )
            else:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute(
                    "INSERT OR REPLACE INTO theus_heavy VALUES (?, ?, ?)", (path, shm_name, version)
                )
                self._conn.execute("COMMIT")

    def heavy_refs(self) -> dict[str, str]:
        with self._lock:
            return dict(self._conn.execute("SELECT path, shm_name FROM theus_heavy").fetchall())

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._release_file_lock()

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteJournal({self.path!r})"
