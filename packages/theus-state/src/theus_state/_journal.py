"""The Journal protocol, commit records and the in-memory journal (the default).

Rules / theory of operation:
- The store calls, under its commit lock: ``begin()`` (returns the SQL connection a
  durable journal writes through, else None), the commit participants, ``append(...)``
  with the commit's delta (written paths and frozen values) and the new root, then
  ``commit()``; any exception in between → ``rollback()`` and nothing of the commit exists.
- ``bootstrap(version, root)`` records the base state of an empty journal; ``restore()``
  returns the latest committed ``(version, root, signals)``; ``root_at(v)`` any kept
  version; ``records(path)`` the history; ``prune(keep_last=N)`` drops old history.
- :class:`MemoryJournal` keeps, per commit, the delta and the (structurally shared,
  immutable) root, so time travel is O(1) and appending costs a tuple. It is bounded by
  ``keep_last`` (default 10,000 commits) so a long-running store does not grow forever.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from ._frozen import Node, out
from ._paths import ParsedPath, parse_path
from ._signals import commit_signals, signals_in
from .exceptions import VersionNotFound

if TYPE_CHECKING:
    import sqlite3

__all__ = ["CommitRecord", "Journal", "MemoryJournal", "overlaps", "requester_label"]

Entry = tuple[ParsedPath, Any]


class CommitRecord(NamedTuple):
    """One commit: its version, wall-clock time, requester and ``path -> new value``
    (``DELETED`` for a deletion)."""

    version: int
    ts: float
    requester: str | None
    changes: Mapping[str, Any]


@runtime_checkable
class Journal(Protocol):
    """What a Store needs from a journal (see the module docstring)."""

    durable: bool

    def is_empty(self) -> bool: ...
    def bootstrap(self, version: int, root: Node[str, Any]) -> None: ...
    def restore(self) -> tuple[int, Node[str, Any], dict[str, Any]]: ...
    def begin(self) -> sqlite3.Connection | None: ...
    def append(
        self,
        version: int,
        ts: float,
        requester: Any,
        writes: Mapping[str, Entry],
        root: Node[str, Any],
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def root_at(self, version: int) -> Node[str, Any]: ...
    # optional: ``state_at(version) -> (root, signals of that commit)``; without it,
    # ``store.at`` finds the signals by walking the root
    def records(self, path: str | None = None) -> Iterator[CommitRecord]: ...
    def prune(self, keep_last: int) -> int: ...
    def batch(self) -> contextlib.AbstractContextManager[None]: ...
    def close(self) -> None: ...


def requester_label(requester: Any) -> str | None:
    """How a requester is recorded: the first item of a tuple (the engine passes
    ``(process name, thread id)``), else ``str(requester)``."""
    if requester is None:
        return None
    if isinstance(requester, tuple) and requester:
        return str(requester[0])
    return str(requester)


def overlaps(a: str, b: str) -> bool:
    """True if one path is the other or an ancestor of it."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _signals_of(version: int, writes: Mapping[str, Entry], root: Node[str, Any]) -> dict[str, Any]:
    """The signals of the commit that made ``version`` (``path -> value``)."""
    if not version:  # the context's own: no commit record
        return signals_in(root)
    return {text: out(value) for text, (_p, value) in commit_signals(writes).items()}


class MemoryJournal:
    """In-memory history: deltas plus shared immutable roots, bounded by ``keep_last``.

    Rules / theory of operation:
    - ``_records`` holds ``(version, ts, requester, writes, root)`` tuples with
      consecutive versions; the first one is the *base* (the oldest version still
      reachable by time travel, whose delta is no longer history), the others are the
      commits. The deque's ``maxlen`` is ``keep_last + 1``, so an append past the bound
      drops the oldest record in the same C call: trimming costs nothing extra.
    - One appender at a time (the store's commit lock), readers from any thread. An
      append is one atomic deque operation under the GIL, so it takes no lock; readers
      copy or index the deque and re-check the version they found (an append may shift
      positions by one). ``prune`` removes from the left under ``_lock``.
    """

    durable = False

    def __init__(self, keep_last: int | None = 10_000) -> None:
        if keep_last is not None and keep_last < 1:
            raise ValueError(f"keep_last must be >= 1 or None, got {keep_last}")
        self._keep_last = keep_last
        self._records: deque[tuple[int, float, Any, Mapping[str, Entry], Node[str, Any]]]
        self._records = deque(maxlen=None if keep_last is None else keep_last + 1)
        self._lock = threading.Lock()

    @property
    def keep_last(self) -> int | None:
        return self._keep_last

    def is_empty(self) -> bool:
        return not self._records

    def bootstrap(self, version: int, root: Node[str, Any]) -> None:
        self._records.append((version, 0.0, None, {}, root))

    def restore(self) -> tuple[int, Node[str, Any], dict[str, Any]]:
        records = self._records
        v, _ts, _rq, writes, root = records[-1]
        return v, root, _signals_of(v, writes, root)

    def begin(self) -> None:
        return None

    def append(
        self,
        version: int,
        ts: float,
        requester: Any,
        writes: Mapping[str, Entry],
        root: Node[str, Any],
    ) -> None:
        self._records.append((version, ts, requester, writes, root))

    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        return None

    def _record_at(
        self, version: int
    ) -> tuple[int, float, Any, Mapping[str, Entry], Node[str, Any]]:
        records = self._records
        while True:
            oldest, latest = records[0][0], records[-1][0]
            if not oldest <= version <= latest:
                pruned = version < oldest and oldest > 0
                raise VersionNotFound(version, oldest, latest, pruned=pruned)
            try:
                record = records[version - oldest]
            except IndexError:  # pruned meanwhile
                continue
            if record[0] == version:
                return record
            # an append dropped the base meanwhile: positions moved, look again

    def root_at(self, version: int) -> Node[str, Any]:
        return self._record_at(version)[4]

    def state_at(self, version: int) -> tuple[Node[str, Any], dict[str, Any]]:
        """The root at ``version`` and the signals of that commit."""
        v, _ts, _rq, writes, root = self._record_at(version)
        return root, _signals_of(v, writes, root)

    def records(self, path: str | None = None) -> Iterator[CommitRecord]:
        wanted = parse_path(path).text if path is not None else None
        snapshot = list(self._records)[1:]  # one C call: atomic under the GIL
        for version, ts, requester, writes, _root in snapshot:
            if wanted is not None and not any(overlaps(wanted, t) for t in writes):
                continue
            changes = {t: out(v) for t, (_p, v) in writes.items()}
            yield CommitRecord(version, ts, requester_label(requester), changes)

    def prune(self, keep_last: int) -> int:
        if keep_last < 0:
            raise ValueError(f"keep_last must be >= 0, got {keep_last}")
        removed = 0
        with self._lock:
            records = self._records
            while len(records) > keep_last + 1:
                records.popleft()
                removed += 1
        return removed

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        return None

    def __len__(self) -> int:
        """The number of commits kept (the base is not one)."""
        return max(len(self._records) - 1, 0)
