"""SqliteJournal: a crash-safe delta journal in one SQLite file (stdlib sqlite3, WAL).

The file's tables and opening them are in ``_sqlite_schema``; what the rows hold and
rebuilding a version from them in ``_sqlite_rows``. This module is the journal itself:
the writer's file lock, the connection's lock and the SQL transactions of the Journal
protocol.

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

from ._codec import Codec, default_codec
from ._frozen import Node
from ._journal import CommitRecord, Entry, overlaps, requester_label
from ._paths import parse_path
from ._sqlite_rows import bounds, decode_changes, encode_delta, encode_root, root_from
from ._sqlite_schema import SYNC_MODES, connect
from .exceptions import JournalError, JournalLocked

__all__ = ["SqliteJournal"]


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
        if sync not in SYNC_MODES:
            raise ValueError(
                f"synchronous must be one of {sorted(SYNC_MODES)}, got {synchronous!r}"
            )
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
            self._conn = connect(
                self.path, readonly=readonly, synchronous=sync, busy_timeout=busy_timeout
            )
        except BaseException:
            self._release_file_lock()
            raise

    # -- one writer per file ------------------------------------------------------------
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

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    # -- Journal protocol ----------------------------------------------------------------------
    def is_empty(self) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM theus_snapshots LIMIT 1").fetchone()
            return row is None

    def bootstrap(self, version: int, root: Node[str, Any]) -> None:
        blob = encode_root(self.codec, root)
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

    def restore(self) -> tuple[int, Node[str, Any], dict[str, Any]]:
        with self._lock:
            _oldest, latest = bounds(self._conn, self.path)
            root, signals, version = root_from(self._conn, self.codec, latest, self.path)
        return version, root, signals

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
        delta = encode_delta(self.codec, writes)
        conn = self._conn
        conn.execute(
            "INSERT INTO theus_commits VALUES (?, ?, ?, ?)",
            (version, ts, requester_label(requester), delta),
        )
        if version % self.snapshot_every == 0:
            conn.execute(
                "INSERT OR REPLACE INTO theus_snapshots VALUES (?, ?, ?)",
                (version, ts, encode_root(self.codec, root)),
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
            return root_from(self._conn, self.codec, version, self.path)[0]

    def state_at(self, version: int) -> tuple[Node[str, Any], dict[str, Any]]:
        """The root at ``version`` and the signals of that commit."""
        with self._lock:
            root, signals, _v = root_from(self._conn, self.codec, version, self.path)
        return root, signals

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
            yield CommitRecord(version, ts, requester, decode_changes(self.codec, pairs))

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
            oldest, latest = bounds(self._conn, self.path)
            cut = latest - keep_last + 1
            if cut <= oldest:
                return 0
            root = root_from(self._conn, self.codec, cut, self.path)[0]
            blob = encode_root(self.codec, root)
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
