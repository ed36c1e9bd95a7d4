"""What a SQLite journal's rows hold, and rebuilding a version from them.

Rules / theory of operation:
- A ``theus_snapshots`` row holds the whole state (the codec's encoding of the root); a
  ``theus_commits`` row holds a delta: the ``[path, encoded value]`` pairs a commit wrote,
  a deletion encoded as the codec's delete tag.
- The root at version ``v`` is the newest snapshot at or before ``v`` with the deltas of
  the later commits up to ``v`` replayed onto it. SIGNAL paths live for one commit only:
  replaying a delta first clears the signals of the commit before it (``_signals``).
- These are plain functions over a connection and a codec; the caller
  (:class:`SqliteJournal`) holds the journal's lock around them.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from ._codec import _DELETE_MARK, DELETE_TAG, Codec
from ._frozen import EMPTY_NODE, Node, node_of, out
from ._journal import Entry
from ._paths import Zone, parse_path
from ._signals import clear_signals, signals_in
from ._transaction import DELETED
from ._tree import tree_delete, tree_set
from .exceptions import JournalError, VersionNotFound

__all__ = [
    "apply_delta",
    "bounds",
    "decode_changes",
    "decode_root",
    "encode_delta",
    "encode_root",
    "root_from",
]


# -- state encoding --------------------------------------------------------------------------
def encode_root(codec: Codec, root: Node[str, Any]) -> bytes:
    return codec.dumps(codec.encode_value("<state>", root))


def decode_root(codec: Codec, blob: bytes) -> Node[str, Any]:
    data = codec.decode(codec.loads(blob))
    root = EMPTY_NODE
    for layer, value in data.items():
        root = tree_set(root, (layer,), node_of(value))
    return root


def encode_delta(codec: Codec, writes: Mapping[str, Entry]) -> bytes:
    enc = codec.encode_value
    return codec.dumps(
        [[t, DELETE_TAG if v is DELETED else enc(t, v)] for t, (_p, v) in writes.items()]
    )


def decode_changes(codec: Codec, pairs: Iterable[Any]) -> dict[str, Any]:
    """``path -> new value`` (``DELETED`` for a deletion) of a loaded delta."""
    changes: dict[str, Any] = {}
    for t, raw in pairs:
        value = codec.decode(raw)
        changes[t] = DELETED if value is _DELETE_MARK else out(node_of(value))
    return changes


def apply_delta(
    codec: Codec, root: Node[str, Any], delta: bytes, previous_signals: Iterable[str]
) -> tuple[Node[str, Any], dict[str, Any], dict[str, Any]]:
    """``root`` with one commit's delta replayed (the signals of the commit before it
    cleared first, as the live commit does); returns the new root, this commit's signals
    (``path -> value``, in write order) and its changes."""
    root = clear_signals(root, previous_signals, {})
    signals: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    for text, raw in codec.loads(delta):
        value = codec.decode(raw)
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
                signals[text] = out(frozen)
    return root, signals, changes


# -- reading a version back ------------------------------------------------------------------
def bounds(conn: sqlite3.Connection, path: str) -> tuple[int, int]:
    """The oldest and latest version ``root_from`` can rebuild (``path``: for errors)."""
    row = conn.execute(
        "SELECT (SELECT MIN(version) FROM theus_snapshots),"
        " (SELECT MAX(version) FROM theus_commits),"
        " (SELECT MAX(version) FROM theus_snapshots)"
    ).fetchone()
    if row[0] is None:
        raise JournalError("journal is empty", path=path)
    oldest = row[0]
    latest = max(v for v in (row[1], row[2]) if v is not None)
    return oldest, latest


def root_from(
    conn: sqlite3.Connection, codec: Codec, version: int, path: str
) -> tuple[Node[str, Any], dict[str, Any], int]:
    """Root at ``version`` and the signals of that commit (``path -> value``)."""
    oldest, latest = bounds(conn, path)
    if not oldest <= version <= latest:
        pruned = version < oldest and _base_version(conn) < oldest
        raise VersionNotFound(version, oldest, latest, pruned=pruned)
    snap = conn.execute(
        "SELECT version, state FROM theus_snapshots WHERE version <= ?"
        " ORDER BY version DESC LIMIT 1",
        (version,),
    ).fetchone()
    root = decode_root(codec, snap[1])
    signals = _snapshot_signals(conn, codec, snap[0], root)
    for (delta,) in conn.execute(
        "SELECT delta FROM theus_commits WHERE version > ? AND version <= ? ORDER BY version",
        (snap[0], version),
    ).fetchall():
        root, signals, _ = apply_delta(codec, root, delta, signals)
    return root, signals, version


def _snapshot_signals(
    conn: sqlite3.Connection, codec: Codec, version: int, root: Node[str, Any]
) -> dict[str, Any]:
    """The signals of the commit a snapshot was taken at (from its delta; version 0 and
    a base whose delta is gone: those the root holds)."""
    row = conn.execute("SELECT delta FROM theus_commits WHERE version = ?", (version,)).fetchone()
    if row is None:
        return signals_in(root)
    changes = decode_changes(codec, codec.loads(row[0]))
    return {
        text: value
        for text, value in changes.items()
        if value is not DELETED and parse_path(text).zone is Zone.SIGNAL
    }


def _base_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM theus_meta WHERE key='base_version'").fetchone()
    return int(row[0]) if row else 0
