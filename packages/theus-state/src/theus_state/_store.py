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

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from ._conflicts import ConflictManager
from ._context import normalize_context
from ._frozen import EMPTY_MAP, FrozenMap, freeze
from ._heavy import HeavyStore
from ._index import ChangeIndex
from ._paths import _CACHE, ParsedPath, Zone, parse_path
from ._plugins import HookFlags, make_plugin_manager
from ._state import _EMPTY_SIGNALS, State
from ._transaction import CommitParticipant, Transaction
from ._tree import NotAMapping, tree_delete, tree_get, tree_set
from ._writes import DELETED, FAST_TYPES, prepare_set
from ._zones import Routed, route_mapping
from .exceptions import ConflictError, InvalidContext, InvalidPath, InvalidValue, StateError

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
        conflict_manager: ConflictManager | None = None,
        plugins: Iterable[object] = (),
    ) -> None:
        self._lock = threading.Lock()
        self._heavy = HeavyStore()
        self._index = ChangeIndex()
        self._cm = conflict_manager if conflict_manager is not None else ConflictManager()
        self._pm: HookFlags = make_plugin_manager(plugins)
        self._state = self._initial_state(context)

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
                    for participant in participants:
                        participant.on_commit(cur.version, None)
                    version = cur.version
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
                        version = self._publish(cur, root, writes, participants)
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

    # -- internals used by Transaction -----------------------------------------------------
    def _put_heavy(self, p: ParsedPath, value: Any) -> None:
        try:
            self._heavy.put(p, value)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidPath(p.text, f"cannot write inside the HEAVY value: {exc}") from None

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
                for participant in tx._participants:
                    participant.on_commit(cur.version, None)
                version = cur.version
            elif cur is tx._base:
                root = tx._root
                if tx._local:
                    root = tree_set(root, ("local",), cur._root._m.get("local", EMPTY_MAP))
                version = self._publish(cur, root, writes, tx._participants)
            else:
                conflict = self._find_conflict(tx.version, writes, tx._reads, cur.version)
                if conflict is None:
                    root = self._replay(cur._root, writes)
                    version = self._publish(cur, root, writes, tx._participants)
        if conflict is not None:
            self._conflicted(conflict, requester)
            raise conflict
        return self._committed(writes, version, requester)

    def _publish(
        self,
        cur: State,
        root: FrozenMap,
        writes: dict[str, Entry],
        participants: Iterable[CommitParticipant],
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
        for participant in participants:
            participant.on_commit(version, None)
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
