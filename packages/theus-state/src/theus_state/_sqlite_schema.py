"""The tables of a SQLite journal file and opening it (schema creation and version check).

Rules / theory of operation:
- ``theus_meta.schema_version`` is checked on open: a newer schema, a foreign SQLite file
  or a corrupt file each raise :class:`JournalFormatError`.
- Opening for writing switches the file to WAL, sets ``PRAGMA synchronous`` and creates
  any missing table; a read-only open (``mode=ro``) changes nothing and needs an existing
  theus journal.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .exceptions import JournalError, JournalFormatError

__all__ = ["SCHEMA_VERSION", "SYNC_MODES", "connect"]

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
SYNC_MODES = {"OFF", "NORMAL", "FULL", "EXTRA"}


def connect(
    path: str, *, readonly: bool, synchronous: str, busy_timeout: float
) -> sqlite3.Connection:
    """Open the journal at ``path`` (autocommit mode: transactions are explicit) and check
    or create its schema."""
    if readonly and not Path(path).exists():
        raise JournalError("no such journal file", path=path)
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(
        uri, uri=True, isolation_level=None, check_same_thread=False, timeout=busy_timeout
    )
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "theus_meta" in tables:
            row = conn.execute("SELECT value FROM theus_meta WHERE key='schema_version'").fetchone()
            found = int(row[0]) if row else 0
            if found > SCHEMA_VERSION:
                raise JournalFormatError(
                    f"journal schema version {found} is newer than this theus-state "
                    f"supports ({SCHEMA_VERSION}); upgrade theus-state",
                    path=path,
                )
            if found < 1:
                raise JournalFormatError("journal has no schema version", path=path)
        elif any(not t.startswith("theus_") for t in tables):
            raise JournalFormatError(
                f"not a theus journal (a foreign SQLite database: tables {sorted(tables)})",
                path=path,
            )
        elif readonly:
            raise JournalFormatError("not a theus journal (no journal tables)", path=path)
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO theus_meta VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise JournalFormatError(f"not a usable SQLite journal ({exc})", path=path) from None
    except BaseException:
        conn.close()
        raise
    return conn
