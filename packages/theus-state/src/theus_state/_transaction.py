"""Transactions: snapshot isolation, private writes, optimistic commit.

Rules / theory of operation:
- A transaction starts from the store's current snapshot (``tx.version``) and keeps a
  private root: the snapshot plus its own writes, applied persistently (O(depth) each),
  so reads inside it see "snapshot at start + own writes" and nothing else.
- Writes are validated and frozen when ``set``/``delete`` is called (bad paths, CONSTANT
  fields and unstorable values fail there, leaving the transaction as it was). HEAVY
  writes bypass the transaction: they are visible at once and survive a rollback.
- Every DATA/META path read or written is remembered. At commit the store checks, under
  its lock, that none of them changed since ``tx.version`` (path granularity, see
  ``_index``); if the store did not move at all, the private root simply becomes the new
  state, otherwise the writes are replayed on the current state.
- ``local`` writes are visible inside the transaction only and are dropped at commit.
- Status table: open --commit--> committed | rolled back (on failure);
  open --rollback / exception in the with-block--> rolled back. Anything else raises
  :class:`TransactionClosed`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from ._frozen import FrozenMap, Opaque, freeze
from ._paths import _CACHE, ParsedPath, Zone, parse_path
from ._tree import MISSING, NotAMapping, tree_delete, tree_get, tree_set
from ._zones import Routed, collect_constants, route_mapping
from .exceptions import (
    InvalidPath,
    InvalidValue,
    PathNotFound,
    TransactionClosed,
    ZoneViolation,
)

if TYPE_CHECKING:
    import sqlite3

    from ._state import State
    from ._store import Store

__all__ = ["DELETED", "CommitParticipant", "Transaction"]


class CommitParticipant(Protocol):
    """An object that takes part in a commit (``tx.attach(participant)``)."""

    def on_commit(self, version: int, conn: sqlite3.Connection | None) -> None: ...

    def on_rollback(self) -> None: ...


class _Deleted:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<deleted>"


DELETED: Any = _Deleted()
_log = logging.getLogger("theus_state")
_OPEN, _COMMITTED, _ROLLED_BACK = "open", "committed", "rolled back"
_FAST_TYPES = frozenset({int, float, str, bool, type(None), bytes})


class Transaction:
    __slots__ = (
        "_base",
        "_local",
        "_participants",
        "_reads",
        "_root",
        "_status",
        "_store",
        "_writes",
        "requester",
        "version",
    )

    def __init__(self, store: Store, base: State, requester: Any = None) -> None:
        self._store = store
        self._base = base
        self._root = base._root
        self._writes: dict[str, tuple[ParsedPath, Any]] = {}
        self._reads: dict[str, ParsedPath] = {}
        self._participants: list[CommitParticipant] = []
        self._status = _OPEN
        self._local = False
        self.requester = requester
        self.version = base.version

    # -- reading ---------------------------------------------------------------------
    @property
    def snapshot(self) -> State:
        """The snapshot this transaction started from."""
        return self._base

    @property
    def status(self) -> str:
        return self._status

    def get(self, path: str, default: Any = MISSING) -> Any:
        p = _CACHE.get(path) or parse_path(path)
        zone = p.zone
        if zone is Zone.HEAVY:
            v = self._store._heavy.lookup(p)
        else:
            if zone is not Zone.SIGNAL and p.keys[0] != "local":
                self._reads[p.text] = p
            v = tree_get(self._root, p.keys)
        if v is MISSING:
            if default is MISSING:
                raise PathNotFound(p.text)
            return default
        return v.get() if type(v) is Opaque else v

    @property
    def writes(self) -> dict[str, Any]:
        """Pending writes ``path -> value`` (``DELETED`` for deletions), in write order."""
        return {text: v for text, (_p, v) in self._writes.items()}

    # -- writing ---------------------------------------------------------------------
    def set(self, path: str, value: Any) -> None:
        p = _CACHE.get(path) or parse_path(path)
        if self._status is not _OPEN:
            raise TransactionClosed(self._status)
        zone = p.zone
        if zone is Zone.HEAVY:
            self._store._put_heavy(p, value)
            return
        if zone is Zone.CONSTANT:
            raise ZoneViolation(p.text, "CONSTANT", "constant fields cannot be written")
        if type(value) in _FAST_TYPES:
            if type(tree_get(self._root, p.keys)) is FrozenMap:
                self._check_constants(p, value, None)
            self._put(p, value)
            return
        routed = None
        if zone is Zone.DATA and isinstance(value, Mapping) and type(value) is not FrozenMap:
            routed = Routed()
            value = route_mapping(p.keys, value, routed)
        try:
            frozen = freeze(value)
        except TypeError as exc:
            raise InvalidValue(p.text, type(value).__name__, str(exc)) from None
        self._check_constants(p, frozen, routed)
        if routed is not None and (routed.signals or routed.heavy):
            signals = [(".".join(k), v) for k, v in routed.signals]
            for text, v in signals:
                try:
                    freeze(v)
                except TypeError as exc:
                    raise InvalidValue(text, type(v).__name__, str(exc)) from None
            self._put(p, frozen)
            for text, v in signals:
                self._put(parse_path(text), freeze(v))
            for keys, v in routed.heavy:
                self._store._put_heavy(parse_path(".".join(keys)), v)
            return
        self._put(p, frozen)

    def delete(self, path: str) -> None:
        p = _CACHE.get(path) or parse_path(path)
        if self._status is not _OPEN:
            raise TransactionClosed(self._status)
        if p.zone is Zone.HEAVY:
            try:
                self._store._heavy.remove(p)
            except (KeyError, TypeError):
                raise PathNotFound(p.text) from None
            return
        if p.zone is Zone.CONSTANT:
            raise ZoneViolation(p.text, "CONSTANT", "constant fields cannot be deleted")
        if len(p.keys) == 1:
            raise InvalidPath(p.text, "a layer cannot be deleted")
        self._check_constants(p, None, None)
        try:
            root = tree_delete(self._root, p.keys)
        except KeyError:
            raise PathNotFound(p.text) from None
        self._record(p, DELETED, root)

    def _check_constants(self, p: ParsedPath, new: Any, routed: Routed | None) -> None:
        old: dict[tuple[str, ...], Any] = {}
        collect_constants(p.keys, tree_get(self._root, p.keys), old)
        fresh = routed.constants if routed is not None else {}
        if not old and not fresh:
            return
        for keys in old.keys() | fresh.keys():
            o, n = old.get(keys, MISSING), fresh.get(keys, MISSING)
            if o is MISSING or n is MISSING or freeze(n) != o:
                raise ZoneViolation(".".join(keys), "CONSTANT", "constant fields cannot change")

    def _put(self, p: ParsedPath, frozen: Any) -> None:
        try:
            root = tree_set(self._root, p.keys, frozen)
        except NotAMapping as exc:
            blocked = ".".join(p.keys[: exc.depth])
            raise InvalidPath(
                p.text, f"{blocked!r} holds a {type(exc.value).__name__}, not a mapping"
            ) from None
        self._record(p, frozen, root)

    def _record(self, p: ParsedPath, value: Any, root: Any) -> None:
        self._root = root
        writes = self._writes
        if p.text in writes:
            del writes[p.text]  # re-insert at the end: replay order == write order
        writes[p.text] = (p, value)
        if p.keys[0] == "local":
            self._local = True

    # -- participants and completion ---------------------------------------------------
    def attach(self, participant: CommitParticipant) -> None:
        """Make ``participant`` take part in this commit (``on_commit``/``on_rollback``)."""
        if self._status is not _OPEN:
            raise TransactionClosed(self._status)
        self._participants.append(participant)

    def commit(self) -> int:
        """Commit; returns the new version (unchanged for an empty commit)."""
        if self._status is not _OPEN:
            raise TransactionClosed(self._status)
        try:
            version = self._store._commit(
                self._base,
                self.version,
                self._writes,
                self._reads,
                self._participants,
                self.requester,
                self._root,
                self._local,
            )
        except BaseException as exc:
            self._abort(exc)
            raise
        self._status = _COMMITTED
        return version

    def rollback(self) -> None:
        """Discard every write (HEAVY writes excepted) and tell the participants."""
        if self._status is not _OPEN:
            raise TransactionClosed(self._status)
        self._abort(None)

    def _abort(self, error: BaseException | None) -> None:
        self._status = _ROLLED_BACK
        self._root = self._base._root
        for participant in self._participants:
            try:
                participant.on_rollback()
            except Exception:  # noqa: BLE001 - one failing participant must not stop the rest
                _log.exception("commit participant %r failed in on_rollback", participant)
        self._store._rolled_back(self, error)

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._status is not _OPEN:
            return
        if exc is None:
            self.commit()
        else:
            self._abort(exc)

    def __repr__(self) -> str:
        return f"<Transaction version={self.version} {self._status} writes={len(self._writes)}>"
