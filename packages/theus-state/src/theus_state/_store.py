"""The Store: current snapshot, commits, compare-and-swap, retries.

Rules / theory of operation:
- ``store.state`` is an immutable :class:`State`; a commit builds the next State and
  swaps the reference under ``_lock``, so readers never lock and never see a partial
  commit. Every commit that writes something bumps the version by exactly one.
- Commit (under the lock): conflict check of the transaction's read and write paths
  against the change index (skipped when the store did not move since the transaction
  began), build the new root (the transaction's private root, or a replay of its
  writes), drop the previous commit's SIGNAL fields, run the commit participants, then
  publish. Any exception before publishing leaves the store exactly as it was.
- Contention: requesters other than the VIP wait (bounded) before committing while a VIP
  ticket is out; ``run_with_retry`` retries ``ConflictError`` only, with the manager's
  backoff, so a run never fails for contention alone.
- Hooks run after the lock is released.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from ._conflicts import ConflictManager
from ._context import normalize_context
from ._frozen import EMPTY_MAP, FrozenMap, freeze, wrap
from ._heavy import HeavyStore
from ._index import ChangeIndex
from ._journal import CommitRecord, Journal, MemoryJournal
from ._paths import _CACHE, ParsedPath, Zone, parse_path, zone_of_key
from ._plugins import HookFlags, make_plugin_manager
from ._state import _EMPTY_SIGNALS, State
from ._transaction import CommitParticipant, Transaction
from ._tree import NotAMapping, tree_delete, tree_get, tree_set
from ._writes import DELETED, FAST_TYPES, prepare_set
from ._zones import Routed, route_mapping
from .exceptions import (
    ConflictError,
    InvalidContext,
    InvalidPath,
    InvalidValue,
    JournalError,
    StateError,
)

__all__ = ["Store"]

_log = logging.getLogger("theus_state")
_SIGNAL = Zone.SIGNAL
_DATA = Zone.DATA
Entry = tuple[ParsedPath, Any]
T = TypeVar("T")


class Store:
    """A versioned, transactional context. See DESIGN.md §2."""

    def __init__(
        self,
        context: Any = None,
        *,
        journal: Journal | None = None,
        conflict_manager: ConflictManager | None = None,
        plugins: Iterable[object] = (),
    ) -> None:
        self._setup(journal, conflict_manager, plugins)
        if not self._journal.is_empty():
            raise JournalError(
                "the journal already holds a history: use Store.open(journal) to restore it",
                path=getattr(self._journal, "path", None),
            )
        self._state = self._initial_state(context)
        self._journal.bootstrap(0, self._state._root)

    def _setup(
        self,
        journal: Journal | None,
        conflict_manager: ConflictManager | None,
        plugins: Iterable[object],
    ) -> None:
        self._lock = threading.Lock()
        self._heavy = HeavyStore()
        self._index = ChangeIndex()
        self._cm = conflict_manager if conflict_manager is not None else ConflictManager()
        self._pm: HookFlags = make_plugin_manager(plugins)
        self._journal: Journal = journal if journal is not None else MemoryJournal()
        self._durable = bool(getattr(self._journal, "durable", False))

    @classmethod
    def open(
        cls,
        journal: Journal,
        *,
        conflict_manager: ConflictManager | None = None,
        plugins: Iterable[object] = (),
    ) -> Store:
        """Restore the last committed state of ``journal`` and keep journaling into it."""
        store = cls.__new__(cls)
        store._setup(journal, conflict_manager, plugins)
        if journal.is_empty():
            raise JournalError(
                "the journal is empty: nothing to restore (create it with Store(context, "
                "journal=...))",
                path=getattr(journal, "path", None),
            )
        version, root, signals = journal.restore()
        store._state = State(version, root, store._heavy, signals or _EMPTY_SIGNALS)
        return store

    # -- construction ------------------------------------------------------------------
    def _initial_state(self, context: Any) -> State:
        layers = normalize_context(context)
        root = EMPTY_MAP
        signals: dict[str, Any] = {}
        for layer in ("domain", "global", "local"):
            routed = Routed()
            data = route_mapping((layer,), layers.get(layer, {}), routed)
            try:
                root = tree_set(root, (layer,), freeze(data))
            except TypeError as exc:
                raise InvalidContext(f"layer {layer!r}: {exc}") from None
            for keys, value in routed.signals:
                text = ".".join(keys)
                try:
                    frozen = freeze(value)
                except TypeError as exc:
                    raise InvalidValue(text, type(value).__name__, str(exc)) from None
                root = tree_set(root, keys, frozen)
                signals[text] = frozen
            for keys, value in routed.heavy:
                self._heavy._items[keys] = value
        return State(0, root, self._heavy, signals or _EMPTY_SIGNALS)

    # -- public API ----------------------------------------------------------------------
    @property
    def state(self) -> State:
        """The current snapshot."""
        return self._state

    @property
    def version(self) -> int:
        return self._state.version

    @property
    def plugin_manager(self) -> HookFlags:
        return self._pm

    @property
    def conflict_manager(self) -> ConflictManager:
        return self._cm

    def transaction(self, *, requester: Any = None) -> Transaction:
        """A new transaction on the current snapshot (use as a context manager)."""
        return Transaction(self, self._state, requester)

    def compare_and_swap(
        self,
        expected_version: int,
        updates: Mapping[str, Any],
        *,
        requester: Any = None,
        strict: bool = False,
    ) -> int:
        """Apply ``updates`` (path → value, ``DELETED`` to delete) atomically if none of
        their paths changed since ``expected_version`` (``strict=True``: if the store is
        still exactly at it). Returns the new version; raises :class:`ConflictError`
        otherwise. Invalid updates raise before anything changes."""
        cur = self._state
        if not 0 <= expected_version <= cur.version:
            raise ConflictError(str(next(iter(updates), "")), expected_version, cur.version)
        writes = self._prepare(updates, cur)
        return self._commit_writes(writes, expected_version, strict, requester, ())

    def apply(
        self,
        updates: Mapping[str, Any],
        *,
        requester: Any = None,
        participants: Iterable[CommitParticipant] = (),
    ) -> int:
        """Blind, atomic write of ``updates`` (last writer wins: no conflict check).
        Returns the new version. Invalid updates raise before anything changes."""
        writes = self._prepare(updates, self._state)
        return self._commit_writes(writes, None, False, requester, tuple(participants))

    def _apply_simple(self, writes: Mapping[str, Any], requester: Any) -> int | None:
        """The blind-apply fast path for the common case -- scalar values written to
        ``layer.field`` DATA paths over non-mapping values, in-memory journal, no signals
        to clear, no VIP out -- done inline under the lock. Returns None (having changed
        nothing) when any condition fails; the caller then uses :meth:`apply`."""
        if self._durable or self._cm._vip is not None:
            return None
        cache = _CACHE
        with self._lock:
            cur = self._state
            if cur._signals:
                return None
            root = cur._root
            entries: dict[str, Entry] = {}
            for path, value in writes.items():
                p = cache.get(path)
                if (
                    p is None
                    or p.zone is not _DATA
                    or len(p.keys) != 2
                    or type(value) not in FAST_TYPES
                ):
                    return None
                k0, k1 = p.keys
                m0 = root._m
                layer = m0.get(k0)
                if type(layer) is not FrozenMap or type(layer._m.get(k1)) is FrozenMap:
                    return None
                root = wrap(m0.set(k0, wrap(layer._m.set(k1, value))))
                entries[p.text] = (p, value)
            if not entries:
                return cur.version
            version = cur.version + 1
            self._journal.append(version, time.time(), requester, entries, root)
            exact, below = self._index.exact, self._index.below
            for p, _value in entries.values():  # ChangeIndex.record, inlined
                exact[p.keys] = below[p.keys] = version
                for a in p.ancestors:
                    below[a] = version
            self._state = State(version, root, self._heavy, _EMPTY_SIGNALS)
        cm = self._cm
        if requester is not None and (cm._counts or cm._vip is not None):
            cm.report_success(requester)
        if self._pm.active.get("theus_state_commit"):
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
                and type(tree_get(root, p.keys)) is not FrozenMap
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

    def run_with_retry(self, fn: Callable[[Transaction], T], *, key: Any) -> T:
        """Call ``fn(tx)`` in a fresh transaction until it commits; return its result.
        Only :class:`ConflictError` is retried (backoff, then the VIP ticket)."""
        cm = self._cm
        while True:
            cm.wait_turn(key)
            tx = Transaction(self, self._state, key)
            try:
                result = fn(tx)
                if tx._status == "open":
                    tx.commit()
            except ConflictError:
                decision = cm.report_conflict(key)
                if decision.wait_s:
                    time.sleep(decision.wait_s)
                continue
            except BaseException as exc:
                if tx._status == "open":
                    tx._abort(exc)
                raise
            return result

    # -- history -------------------------------------------------------------------------
    @property
    def journal(self) -> Journal:
        return self._journal

    def at(self, version: int) -> State:
        """The state as it was at ``version`` (read-only; HEAVY values are not history).
        Raises :class:`VersionNotFound` for a version outside the kept history."""
        root = self._journal.root_at(version)
        return State(version, root, self._heavy, _signals_in(root))

    def history(self, path: str | None = None) -> Iterator[CommitRecord]:
        """Commit records, oldest first; with ``path``, only commits that wrote it, an
        ancestor or a descendant of it."""
        return self._journal.records(path)

    def fork(
        self,
        version: int | None = None,
        *,
        journal: Journal | None = None,
        plugins: Iterable[object] = (),
    ) -> Store:
        """A new, independent store starting from ``version`` (default: the current one).
        Its versions continue from there; the original is never touched."""
        base = self._state if version is None else self.at(version)
        fork = Store.__new__(Store)
        fork._setup(journal, None, plugins)
        if not fork._journal.is_empty():
            raise JournalError("a fork needs an empty journal")
        fork._state = State(base.version, base._root, fork._heavy, base._signals)
        for keys, value in self._heavy.entries():
            fork._heavy._items[keys] = value
        fork._journal.bootstrap(base.version, base._root)
        return fork

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: commits inside share one durable write (see the journal)."""
        with self._journal.batch():
            yield

    def close(self) -> None:
        """Close the journal (a durable journal releases its file lock)."""
        self._journal.close()

    # -- internals used by Transaction -----------------------------------------------------
    def _put_heavy(self, p: ParsedPath, value: Any) -> None:
        try:
            self._heavy.put(p, value)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidPath(p.text, f"cannot write inside the HEAVY value: {exc}") from None
        name = getattr(value, "shm_name", None)
        record = getattr(self._journal, "record_heavy", None)
        if isinstance(name, str) and record is not None:
            record(p.text, name, self._state.version)  # by name only: never the data

    @property
    def heavy_refs(self) -> dict[str, str]:
        """HEAVY paths recorded by a durable journal with their shared-memory names (a
        restored store holds no HEAVY objects: re-attach them by these names)."""
        refs = getattr(self._journal, "heavy_refs", None)
        return refs() if refs is not None else {}

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
                    root = tree_set(root, ("local",), cur._root._m.get("local", EMPTY_MAP))
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
        root: FrozenMap,
        writes: dict[str, Entry],
        participants: Iterable[CommitParticipant],
        requester: Any,
    ) -> int:
        """Under the lock: finish the new root, run participants, make it current."""
        signals: dict[str, Any] = {}
        for text, (p, value) in writes.items():
            if p.zone is _SIGNAL and value is not DELETED:
                signals[text] = value
        for text in cur._signals:  # the previous commit's signals do not survive
            if text not in signals:
                try:
                    root = tree_delete(root, parse_path(text).keys)
                except KeyError:
                    pass
        version = cur.version + 1
        journal = self._journal
        if self._durable:
            conn = journal.begin()
            try:
                for participant in participants:
                    participant.on_commit(version, conn)
                journal.append(version, time.time(), requester, writes, root)
                journal.commit()
            except BaseException:
                journal.rollback()
                raise
        else:  # in-memory journal: nothing to begin or commit, append cannot fail
            for participant in participants:
                participant.on_commit(version, None)
            journal.append(version, time.time(), requester, writes, root)
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
    def _replay(root: FrozenMap, writes: dict[str, Entry]) -> FrozenMap:
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

    def __repr__(self) -> str:
        return f"<Store version={self._state.version}>"


def _signals_in(root: FrozenMap) -> dict[str, Any]:
    """SIGNAL fields present in a historical root (those of the commit that made it)."""
    found: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if type(node) is not FrozenMap:
            return
        for k, v in node._m.items():
            if type(k) is not str:
                continue
            path = f"{prefix}.{k}" if prefix else k
            zone = zone_of_key(k)
            if zone is Zone.SIGNAL:
                found[path] = v
            elif zone is None or not prefix:
                walk(v, path)

    walk(root, "")
    return found
