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
- So that a replay gives exactly the private root, the writes are kept as a replayable
  log: a write or delete at a path drops the pending writes below it (they no longer
  exist in the private root; a SIGNAL among them is not emitted), and a mapping a write
  creates on its way is recorded as a write of its own, before it (except in the SIGNAL
  zone: that write would be emitted as a signal of its own).
- ``local`` writes are visible inside the transaction only and are dropped at commit.
- Status table: open --commit--> committed | rolled back (on failure);
  open --rollback / exception in the with-block--> rolled back. Anything else raises
  :class:`TransactionClosed`.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from ._frozen import EMPTY_NODE, Node, out
from ._paths import _CACHE, ParsedPath, Zone, parse_path
from ._state import with_heavy
from ._tree import MISSING, NotAMapping, tree_delete, tree_get, tree_set
from ._writes import DELETED, FAST_TYPES, check_constants, prepare_delete, prepare_set
from .exceptions import InvalidPath, PathNotFound, TransactionClosed

if TYPE_CHECKING:
    import sqlite3

    from ._state import State
    from ._store import Store

__all__ = ["DELETED", "CommitParticipant", "Transaction"]


class CommitParticipant(Protocol):
    """An object that takes part in a commit (``tx.attach(participant)``)."""

    def on_commit(self, version: int, conn: sqlite3.Connection | None) -> None: ...

    def on_rollback(self) -> None: ...


_log = logging.getLogger("theus_state")
_OPEN, _COMMITTED, _ROLLED_BACK = "open", "committed", "rolled back"
_SIGNAL = Zone.SIGNAL
_DATA = Zone.DATA


def _created_parent(root: Node[str, Any], keys: tuple[str, ...]) -> ParsedPath | None:
    """The outermost mapping on the way to ``keys`` that does not exist in ``root`` (a
    write at ``keys`` creates it), or None."""
    node: Any = root
    for i, k in enumerate(keys[:-1]):
        node = node.get(k, MISSING) if type(node) is Node else MISSING
        if node is MISSING:
            return parse_path(".".join(keys[: i + 1]))
    return None


class Transaction:
    __slots__ = (
        "_base",
        "_depth",
        "_local",
        "_participants",
        "_reads",
        "_root",
        "_signals",
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
        self._signals = 0  # number of SIGNAL writes
        self._depth = 0  # the most path segments of a write so far
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
        if type(v) is Node and len(self._store._heavy):
            v = with_heavy(v, p.keys, self._store._heavy)
        return out(v)

    @property
    def signal_writes(self) -> dict[str, Any]:
        """Pending SIGNAL writes ``path -> frozen value``, in write order."""
        if not self._signals:
            return {}
        return {
            text: out(v)
            for text, (p, v) in self._writes.items()
            if p.zone is _SIGNAL and v is not DELETED
        }

    @property
    def writes(self) -> dict[str, Any]:
        """Pending writes ``path -> value`` (``DELETED`` for deletions), in write order."""
        return {text: out(v) for text, (_p, v) in self._writes.items()}

    # -- writing ---------------------------------------------------------------------
    def set(self, path: str, value: Any) -> None:
        p = _CACHE.get(path) or parse_path(path)
        if self._status is not _OPEN:
            raise TransactionClosed(self._status)
        if type(value) in FAST_TYPES and p.zone is _DATA:
            if type(tree_get(self._root, p.keys)) is Node:
                check_constants(p, self._root, {})
            self._put(p, value)
            return
        entries, heavy = prepare_set(p, value, self._root)  # raises before any change
        for hp, hv in heavy:
            self._store._put_heavy(hp, hv)
        for ep, ev in entries:
            if ev is DELETED:
                self._remove(ep)
            else:
                self._put(ep, ev)

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
        self._remove(prepare_delete(p, self._root)[0])

    def _remove(self, p: ParsedPath) -> None:
        try:
            root = tree_delete(self._root, p.keys)
        except KeyError:
            raise PathNotFound(p.text) from None
        self._record(p, DELETED, root)

    def _put(self, p: ParsedPath, frozen: Any) -> None:
        try:
            root = tree_set(self._root, p.keys, frozen)
        except NotAMapping as exc:
            blocked = ".".join(p.keys[: exc.depth])
            raise InvalidPath(
                p.text, f"{blocked!r} holds a {type(exc.value).__name__}, not a mapping"
            ) from None
        if len(p.keys) > 2:  # a mapping this write creates is a write too (for a replay)
            created = _created_parent(self._root, p.keys)
            # (not a SIGNAL one: it would be emitted; signals do not outlive the commit)
            if created is not None and created.zone is not _SIGNAL:
                self._record(created, EMPTY_NODE, root)
        self._record(p, frozen, root)

    def _record(self, p: ParsedPath, value: Any, root: Any) -> None:
        self._root = root
        writes = self._writes
        text = p.text
        if text in writes:
            del writes[text]  # re-insert at the end: replay order == write order
        depth = len(p.keys)
        if self._depth > depth:
            self._drop_below(text)
        else:
            self._depth = depth
        writes[text] = (p, value)
        if p.keys[0] == "local":
            self._local = True
        elif p.zone is _SIGNAL:
            self._signals += 1

    def _drop_below(self, text: str) -> None:
        """Forget the writes below ``text``: the one just made there replaced them (the
        private root no longer holds them, a replay must not apply them, a SIGNAL among
        them is not emitted)."""
        writes = self._writes
        prefix = text + "."
        below = [k for k in writes if k.startswith(prefix)]
        if below:
            for k in below:
                del writes[k]
            self._signals = sum(1 for q, _v in writes.values() if q.zone is _SIGNAL)

    # -- participants and completion ---------------------------------------------------
    def attach(self, participant: CommitParticipant) -> None:
        """Make ``participant`` take part in this commit (``on_commit``/``on_rollback``)."""
        if self._status is not _OPEN:
            raise TransactionClosed(self._status)
        self._participants.append(participant)

    def commit(self, *, wait: bool = True) -> int:
        """Commit; returns the new version (unchanged for an empty commit).

        ``wait=False`` skips the bounded wait while another requester holds the VIP
        ticket (for asyncio callers, which wait on their event loop instead)."""
        if self._status is not _OPEN:
            raise TransactionClosed(self._status)
        try:
            version = self._store._commit(self, wait)
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
