"""Path-granular change index used for optimistic conflict detection.

Rules / theory of operation:
- ``exact[path]`` is the last version whose commit wrote (set or deleted) exactly
  ``path``; ``below[path]`` is the last version whose commit wrote ``path`` or anything
  under it. Both are updated under the store's commit lock, O(depth) per written path.
  Keys are canonical path texts (strings cache their hash; key tuples would be hashed
  again at every lookup).
- A transaction that started at version ``v`` and touched (read or wrote) ``keys``
  conflicts iff some later commit wrote ``keys``, a descendant of it (``below[keys] > v``),
  or an ancestor of it (``exact[a] > v`` for a proper prefix ``a``). Siblings never
  conflict: ``domain.user.name`` and ``domain.user.age`` are independent, while a write
  of ``domain.user`` conflicts with both.
- Entries are never removed (a path written once keeps one entry per prefix), so the
  check is exact for any start version.
- Deferred recording: the blind-apply fast path only appends its commit record
  ``(version, ts, requester, entries, root)`` to ``later``; :meth:`flush` records those
  entries in commit order. Every reader and every other writer flushes first
  (``record``, ``changed_since``), so nobody ever sees the index without them, and the
  fast path flushes itself once ``later`` holds ``LATER_MAX`` records. All of it runs
  under the store's commit lock.
"""

from __future__ import annotations

from typing import Any

from ._paths import ParsedPath

__all__ = ["LATER_MAX", "ChangeIndex"]

LATER_MAX = 256


class ChangeIndex:
    __slots__ = ("below", "exact", "later")

    def __init__(self) -> None:
        self.exact: dict[str, int] = {}
        self.below: dict[str, int] = {}
        # commit records whose entries are not recorded yet (see ``flush``)
        self.later: list[tuple[Any, ...]] = []

    def flush(self) -> None:
        """Record the entries of the deferred commit records, oldest first."""
        later = self.later
        exact, below = self.exact, self.below
        for record in later:
            version = record[0]
            for text, (p, _value) in record[3].items():
                exact[text] = below[text] = version
                for a in p.ancestors:
                    below[a] = version
        later.clear()

    def record(self, p: ParsedPath, version: int) -> None:
        if self.later:
            self.flush()
        self.exact[p.text] = version
        below = self.below
        below[p.text] = version
        for a in p.ancestors:
            below[a] = version

    def changed_since(self, p: ParsedPath, since: int) -> bool:
        if self.later:
            self.flush()
        if self.below.get(p.text, 0) > since:
            return True
        exact = self.exact
        return any(exact.get(a, 0) > since for a in p.ancestors)
