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

from ._frozen import FrozenMap
from ._paths import ParsedPath, Zone, parse_path
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
    def bootstrap(self, version: int, root: FrozenMap) -> None: ...
    def restore(self) -> tuple[int, FrozenMap, dict[str, Any]]: ...
    def begin(self) -> sqlite3.Connection | None: ...
    def append(
        self,
        version: int,
        ts: float,
        requester: Any,
        writes: Mapping[str, Entry],
        root: FrozenMap,
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def root_at(self, version: int) -> FrozenMap: ...
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


def signal_paths(writes: Mapping[str, Entry]) -> dict[str, Any]:
    return {text: v for text, (p, v) in writes.items() if p.zone is Zone.SIGNAL}


class MemoryJournal:
    """In-memory history: deltas plus shared immutable roots, bounded by ``keep_last``."""

    durable = False

    def __init__(self, keep_last: int | None = 10_000) -> None:
        if keep_last is not None and keep_last < 1:
            raise ValueError(f"keep_last must be >= 1 or None, got {keep_last}")
        self.keep_last = keep_last
        # (version, ts, requester, writes, root); versions are consecutive
        self._records: deque[tuple[int, float, Any, Mapping[str, Entry], FrozenMap]]
        self._records = deque()
        self._base: tuple[int, FrozenMap] | None = None
        self._pruned_before = 0
        # appends come from the store's commit lock; readers (time travel, history) from
        # any thread: one small lock keeps the deque and its base consistent for them
        self._lock = threading.Lock()

    def is_empty(self) -> bool:
        return self._base is None

    def bootstrap(self, version: int, root: FrozenMap) -> None:
        self._base = (version, root)
        self._pruned_before = version

    def restore(self) -> tuple[int, FrozenMap, dict[str, Any]]:
        with self._lock:
            if self._records:
                v, _ts, _rq, writes, root = self._records[-1]
                return v, root, signal_paths(writes)
            assert self._base is not None
            return self._base[0], self._base[1], {}

    def begin(self) -> None:
        return None

    def append(
        self,
        version: int,
        ts: float,
        requester: Any,
        writes: Mapping[str, Entry],
        root: FrozenMap,
    ) -> None:
        records = self._records
        with self._lock:
            records.append((version, ts, requester, writes, root))
            if self.keep_last is not None and len(records) > self.keep_last:
                v, _ts, _rq, _w, old_root = records.popleft()
                self._base = (v, old_root)
                self._pruned_before = v

    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        return None

    def _bounds(self) -> tuple[int, int]:
        assert self._base is not None
        latest = self._records[-1][0] if self._records else self._base[0]
        return self._base[0], latest

    def root_at(self, version: int) -> FrozenMap:
        with self._lock:
            oldest, latest = self._bounds()
            if not oldest <= version <= latest:
                raise VersionNotFound(
                    version, oldest, latest, pruned=version < oldest and self._pruned_before > 0
                )
            assert self._base is not None
            if version == oldest:
                return self._base[1]
            return self._records[version - oldest - 1][4]

    def records(self, path: str | None = None) -> Iterator[CommitRecord]:
        wanted = parse_path(path).text if path is not None else None
        with self._lock:
            snapshot = list(self._records)
        for version, ts, requester, writes, _root in snapshot:
            if wanted is not None and not any(overlaps(wanted, t) for t in writes):
                continue
            changes = {t: v for t, (_p, v) in writes.items()}
            yield CommitRecord(version, ts, requester_label(requester), changes)

    def prune(self, keep_last: int) -> int:
        if keep_last < 0:
            raise ValueError(f"keep_last must be >= 0, got {keep_last}")
        removed = 0
        with self._lock:
            while len(self._records) > keep_last:
                v, _ts, _rq, _w, root = self._records.popleft()
                self._base = (v, root)
                self._pruned_before = v
                removed += 1
        return removed

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._records)
