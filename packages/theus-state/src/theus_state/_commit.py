"""The commit machinery behind :class:`Store` (one concept: making a new version).

Rules / theory of operation:
- ``store.state`` is an immutable :class:`State`; a commit builds the next State and
  swaps the reference under ``_lock``, so readers never lock and never see a partial
  commit. Every commit that writes something bumps the version by exactly one.
- Transaction commit (under the lock): conflict check of its read and write paths against
  the change index (skipped when the store did not move since it began), the new root
  (its private root, or a replay of its writes), then :meth:`_publish`: drop the previous
  commit's SIGNAL fields, run the commit participants and the journal append in one
  journal transaction, record the change index, make the State current. Any exception
  before that last step leaves the store exactly as it was.
- Blind writes (``apply``) and CAS skip the read set; ``_apply_simple`` is the inlined
  common case of ``apply`` (scalar ``layer.field`` writes, in-memory journal).
- Contention: requesters other than the VIP wait (bounded) before committing while a VIP
  ticket is out. Hooks run after the lock is released.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from time import time as _time
from typing import Any

from ._conflicts import ConflictManager
from ._frozen import EMPTY_NODE, Node, out
from ._heavy import HeavyStore
from ._index import LATER_MAX, ChangeIndex
from ._journal import Journal
from ._paths import _CACHE, ParsedPath, Zone, parse_path
from ._plugins import HookFlags
from ._signals import clear_signals, commit_signals
from ._state import _EMPTY_SIGNALS, State
from ._transaction import CommitParticipant, Transaction
from ._tree import NotAMapping, tree_delete, tree_get, tree_set
from ._writes import DELETED, FAST_TYPES, prepare_set
from .exceptions import ConflictError, InvalidPath, StateError

__all__ = ["Committer", "Entry"]

_SIGNAL = Zone.SIGNAL
_DATA = Zone.DATA
Entry = tuple[ParsedPath, Any]
_new = object.__new__


class Committer:
    """Base of :class:`Store`: everything that turns writes into a new version."""

    _lock: threading.Lock
    _state: State
    _heavy: HeavyStore
    _index: ChangeIndex
    _cm: ConflictManager
    _pm: HookFlags
    _journal: Journal
    _durable: bool
    _append_record: Callable[[Any], None] | None

    def _apply_simple(
        self, entries: dict[str, Entry], requester: Any, checked: bool = False
    ) -> int | None:
        """The blind-apply fast path for the common case -- scalar values written to
        ``layer.field`` DATA paths over non-mapping values, in-memory journal, no signals
        to clear, no VIP out -- done inline under the lock. ``entries`` (``path ->
        (parsed path, value)``, as :meth:`_prepare` makes them) becomes the journal's
        record: the caller hands it over. ``checked``: the caller guarantees that every
        entry is such a path with a ``FAST_TYPES`` value (what the state holds is still
        checked here). Returns None (having changed nothing) when any condition fails;
        the caller then uses :meth:`apply`."""
        if self._durable or self._cm._vip is not None or not entries:
            return None
        lock = self._lock
        lock.acquire()  # not ``with``: measurably slower on this hot path
        try:
            cur = self._state
            if cur._signals:
                return None
            root = cur._root
            # p is a ParsedPath: p[1] keys, p[2] zone (indexing is cheaper than
            # attribute access on this path)
            for p, value in entries.values():
                keys = p[1]
                if not checked and (
                    p[2] is not _DATA or len(keys) != 2 or type(value) not in FAST_TYPES
                ):
                    return None
                k0, k1 = keys
                layer = root.get(k0)
                if type(layer) is not Node or type(layer.get(k1)) is Node:
                    return None
                root = root.set(k0, layer.set(k1, value))
            version = cur.version + 1
            record = (version, _time(), requester, entries, root)
            append_record = self._append_record
            if append_record is not None:  # MemoryJournal.append, inlined
                append_record(record)
            else:
                self._journal.append(*record)
            later = self._index.later  # recorded in the change index on its next use
            later.append(record)
            if len(later) >= LATER_MAX:
                self._index.flush()
            state = _new(State)  # State(version, root, heavy), inlined
            state.version = version
            state._root = root
            state._heavy = self._heavy
            state._signals = _EMPTY_SIGNALS
            self._state = state
        finally:
            lock.release()
        if requester is not None:
            cm = self._cm
            if cm._counts or cm._vip is not None:
                cm.report_success(requester)
        active = self._pm.active  # empty while no plugin implements any hook
        if active and active.get("theus_state_commit"):
            self._pm.hook.theus_state_commit(
                store=self, version=version, paths=tuple(entries), requester=requester
            )
        return version

    def _prepare(self, updates: Mapping[str, Any], cur: State) -> dict[str, Entry]:
        writes: dict[str, Entry] = {}
        heavy: list[Entry] = []
        root = cur._root
        for path, value in updates.items():
            p = _CACHE.get(path) or parse_path(path)
            if (
                type(value) in FAST_TYPES
                and p.zone is _DATA
                and type(tree_get(root, p.keys)) is not Node
            ):
                writes.pop(p.text, None)
                writes[p.text] = (p, value)
                continue
            entries, more_heavy = prepare_set(p, value, root)
            heavy.extend(more_heavy)
            for ep, ev in entries:
                writes.pop(ep.text, None)
                writes[ep.text] = (ep, ev)
        for hp, hv in heavy:  # validated: write-through now
            self._put_heavy(hp, hv)
        return writes

    def _commit_writes(
        self,
        writes: dict[str, Entry],
        since: int | None,
        strict: bool,
        requester: Any,
        participants: tuple[CommitParticipant, ...],
    ) -> int:
        cm = self._cm
        if cm._vip is not None:
            cm.wait_turn(requester)
        error: StateError | None = None
        with self._lock:
            cur = self._state
            if since is not None and cur.version != since:
                if strict:
                    first = next(iter(writes), "")
                    error = ConflictError(first, since, cur.version)
                else:
                    error = self._find_conflict(since, writes, {}, cur.version)
            if error is None:
                if not writes:
                    version = self._empty_commit(cur, participants)
                else:
                    try:
                        root = self._replay(cur._root, writes)
                    except NotAMapping as exc:
                        p = next(p for p, _ in writes.values() if len(p.keys) > exc.depth)
                        error = InvalidPath(
                            p.text,
                            f"{'.'.join(p.keys[: exc.depth])!r} holds a "
                            f"{type(exc.value).__name__}, not a mapping",
                        )
                    else:
                        version = self._publish(cur, root, writes, participants, requester)
        if error is not None:
            if isinstance(error, ConflictError):
                self._conflicted(error, requester)
            raise error
        return self._committed(writes, version, requester)

    def _put_heavy(self, p: ParsedPath, value: Any) -> None:
        try:
            self._heavy.put(p, value)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidPath(p.text, f"cannot write inside the HEAVY value: {exc}") from None
        name = getattr(value, "shm_name", None)
        record = getattr(self._journal, "record_heavy", None)
        if isinstance(name, str) and record is not None:
            record(p.text, name, self._state.version)  # by name only: never the data

    def _commit(self, tx: Transaction, wait: bool = True) -> int:
        cm = self._cm
        requester = tx.requester
        if wait and cm._vip is not None:
            cm.wait_turn(requester)
        writes = tx._writes
        conflict: ConflictError | None = None
        with self._lock:
            cur = self._state
            if not writes:
                version = self._empty_commit(cur, tx._participants)
            elif cur is tx._base:
                root = tx._root
                if tx._local:
                    root = tree_set(root, ("local",), cur._root.get("local", EMPTY_NODE))
                version = self._publish(cur, root, writes, tx._participants, requester)
            else:
                conflict = self._find_conflict(tx.version, writes, tx._reads, cur.version)
                if conflict is None:
                    root = self._replay(cur._root, writes)
                    version = self._publish(cur, root, writes, tx._participants, requester)
        if conflict is not None:
            self._conflicted(conflict, requester)
            raise conflict
        return self._committed(writes, version, requester)

    def _empty_commit(self, cur: State, participants: Iterable[CommitParticipant]) -> int:
        """A commit without state writes: participants still commit (durably, in one SQL
        transaction, when the journal is durable); the version does not move."""
        participants = tuple(participants)
        if not participants:
            return cur.version
        journal = self._journal
        conn = journal.begin() if self._durable else None
        try:
            for participant in participants:
                participant.on_commit(cur.version, conn)
            if conn is not None:
                journal.commit()
        except BaseException:
            if conn is not None:
                journal.rollback()
            raise
        return cur.version

    def _publish(
        self,
        cur: State,
        root: Node[str, Any],
        writes: dict[str, Entry],
        participants: Iterable[CommitParticipant],
        requester: Any,
    ) -> int:
        """Under the lock: finish the new root, run participants, make it current."""
        new = commit_signals(writes)
        if cur._signals:  # the previous commit's signals do not survive
            root = clear_signals(root, cur._signals, new)
        signals = {text: out(value) for text, (_p, value) in new.items()}
        version = cur.version + 1
        journal = self._journal
        if self._durable:
            conn = journal.begin()
            try:
                for participant in participants:
                    participant.on_commit(version, conn)
                journal.append(version, _time(), requester, writes, root)
                journal.commit()
            except BaseException:
                journal.rollback()
                raise
        else:  # in-memory journal: nothing to begin or commit, append cannot fail
            for participant in participants:
                participant.on_commit(version, None)
            journal.append(version, _time(), requester, writes, root)
        record = self._index.record
        for p, _value in writes.values():
            if p.zone is not _SIGNAL and p.keys[0] != "local":
                record(p, version)
        self._state = State(version, root, self._heavy, signals or _EMPTY_SIGNALS)
        return version

    def _committed(self, writes: dict[str, Entry], version: int, requester: Any) -> int:
        if requester is not None:
            self._cm.report_success(requester)
        if writes and self._pm.active.get("theus_state_commit"):
            self._pm.hook.theus_state_commit(
                store=self, version=version, paths=tuple(writes), requester=requester
            )
        return version

    def _find_conflict(
        self,
        since: int,
        writes: dict[str, Entry],
        reads: Mapping[str, ParsedPath],
        actual: int,
    ) -> ConflictError | None:
        changed = self._index.changed_since
        for p, _v in writes.values():
            if p.zone is not Zone.SIGNAL and p.keys[0] != "local" and changed(p, since):
                return ConflictError(p.text, since, actual)
        for p in reads.values():
            if changed(p, since):
                return ConflictError(p.text, since, actual)
        return None

    @staticmethod
    def _replay(root: Node[str, Any], writes: dict[str, Entry]) -> Node[str, Any]:
        for p, value in writes.values():
            if p.keys[0] == "local":
                continue
            if value is DELETED:
                try:
                    root = tree_delete(root, p.keys)
                except KeyError:
                    pass
            else:
                root = tree_set(root, p.keys, value)  # conflict check excludes NotAMapping
        return root

    def _conflicted(self, error: ConflictError, requester: Any) -> None:
        if self._pm.active.get("theus_state_conflict"):
            self._pm.hook.theus_state_conflict(store=self, error=error, requester=requester)

    def _rolled_back(self, tx: Transaction, error: BaseException | None) -> None:
        if self._pm.active.get("theus_state_rollback"):
            self._pm.hook.theus_state_rollback(
                store=self, version=tx.version, paths=tuple(tx._writes), error=error
            )
