"""The HEAVY zone: large objects stored by reference, outside the versioned tree.

A HEAVY value (numpy array, tensor, shm array...) is never copied, frozen, snapshotted or
journaled by value. It lives in one mutable table shared by the store and all of its
snapshots, keyed by the path up to the ``heavy_`` segment, so a write is visible at once
to every reader and survives a rollback (write-through). Deeper paths address inside the
object (mapping key, else attribute).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from ._paths import ParsedPath
from ._tree import MISSING

__all__ = ["HeavyStore"]


class HeavyStore(Mapping[str, Any]):
    """Read-only mapping view ``"domain.heavy_x" -> object``; writes go through the store."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()
        self.generation = 0

    @staticmethod
    def _split(p: ParsedPath) -> tuple[tuple[str, ...], tuple[str, ...]]:
        d = p.zone_depth + 1
        return p.keys[:d], p.keys[d:]

    def lookup(self, p: ParsedPath) -> Any:
        root, rest = self._split(p)
        obj = self._items.get(root, MISSING)
        for k in rest:
            if obj is MISSING:
                break
            obj = obj.get(k, MISSING) if isinstance(obj, Mapping) else getattr(obj, k, MISSING)
        return obj

    def put(self, p: ParsedPath, value: Any) -> None:
        root, rest = self._split(p)
        with self._lock:
            if not rest:
                self._items[root] = value
            else:
                target = self._items.get(root, MISSING)
                for k in rest[:-1]:
                    target = (
                        target.get(k, MISSING)
                        if isinstance(target, Mapping)
                        else getattr(target, k, MISSING)
                    )
                    if target is MISSING:
                        raise KeyError(".".join(p.keys))
                if target is MISSING:
                    raise KeyError(".".join(root))
                if hasattr(target, "__setitem__"):
                    target[rest[-1]] = value
                else:
                    setattr(target, rest[-1], value)
            self.generation += 1

    def remove(self, p: ParsedPath) -> None:
        root, rest = self._split(p)
        with self._lock:
            if rest:
                parent = self.lookup(p._replace(keys=p.keys[:-1]))
                if parent is MISSING:
                    raise KeyError(p.text)
                del parent[rest[-1]]
            else:
                del self._items[root]
            self.generation += 1

    def entries(self) -> list[tuple[tuple[str, ...], Any]]:
        with self._lock:  # a copy taken while no writer resizes the table
            return list(self._items.items())

    def __getitem__(self, path: str) -> Any:
        return self._items[tuple(path.split("."))]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            keys = list(self._items)
        return iter([".".join(k) for k in keys])

    def __len__(self) -> int:
        return len(self._items)
