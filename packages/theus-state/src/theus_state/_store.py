"""The Store: its construction, the public write API, retries and history.

How a commit works (locking, conflicts, journal, participants) is in ``_commit``.
``run_with_retry`` retries ``ConflictError`` only, with the manager's backoff and VIP
ticket, so a run never fails for contention alone.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from ._commit import Committer
from ._conflicts import ConflictManager
from ._context import normalize_context
from ._frozen import EMPTY_NODE, node_of, out
from ._heavy import HeavyStore
from ._index import ChangeIndex
from ._journal import CommitRecord, Journal, MemoryJournal
from ._plugins import HookFlags, make_plugin_manager
from ._signals import signals_in
from ._state import _EMPTY_SIGNALS, State
from ._transaction import CommitParticipant, Transaction
from ._tree import tree_set
from ._zones import Routed, route_mapping
from .exceptions import (
    ConflictError,
    InvalidContext,
    InvalidValue,
    JournalError,
)

__all__ = ["Store"]

T = TypeVar("T")


class Store(Committer):
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
        # MemoryJournal.append is one deque append: the blind-apply fast path calls it
        # directly (one Python frame less per commit)
        journal = self._journal
        self._append_record = journal._records.append if type(journal) is MemoryJournal else None

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
        root = EMPTY_NODE
        signals: dict[str, Any] = {}
        for layer in ("domain", "global", "local"):
            routed = Routed()
            data = route_mapping((layer,), layers.get(layer, {}), routed)
            try:
                root = tree_set(root, (layer,), node_of(data))
            except TypeError as exc:
                raise InvalidContext(f"layer {layer!r}: {exc}") from None
            for keys, value in routed.signals:
                text = ".".join(keys)
                try:
                    frozen = node_of(value)
                except TypeError as exc:
                    raise InvalidValue(text, type(value).__name__, str(exc)) from None
                root = tree_set(root, keys, frozen)
                signals[text] = out(frozen)
            for keys, value in routed.heavy:
                self._heavy._items[keys] = value
        signals = dict(sorted(signals.items()))  # by path, as ``signals_in`` gives them
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
        journal = self._journal
        state_at = getattr(journal, "state_at", None)  # optional in the Journal protocol
        if state_at is not None:
            root, signals = state_at(version)
        else:
            root = journal.root_at(version)
            signals = signals_in(root)
        return State(version, root, self._heavy, signals or _EMPTY_SIGNALS)

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

    @property
    def heavy_refs(self) -> dict[str, str]:
        """HEAVY paths recorded by a durable journal with their shared-memory names (a
        restored store holds no HEAVY objects: re-attach them by these names)."""
        refs = getattr(self._journal, "heavy_refs", None)
        return refs() if refs is not None else {}

    def __repr__(self) -> str:
        return f"<Store version={self._state.version}>"
