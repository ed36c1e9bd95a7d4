"""TheusEngine: construction, registration, workflows, durability, lifecycle.

How one process call runs (audit, attempts, conflicts, commit, signals) is in ``_calls``.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from theus_audit import Auditor, AuditRecipe
from theus_signals import MemoryOutboxStore, OutboxCollector, Relay, SignalHub, SqliteOutboxStore
from theus_state import (
    CommitRecord,
    SqliteJournal,
    State,
    Store,
    Transaction,
    Zone,
)

from ._calls import ProcessCalls
from ._contracts import ProcessSpec, process, spec_of
from ._plugins import EnginePluginManager, make_plugin_manager
from ._relay import attach_relays
from ._runs import RunStore, journal_transaction
from ._scan import scan_target
from .exceptions import InvalidProcess, ProcessNotFound, TheusError

__all__ = ["TheusEngine"]

_log = logging.getLogger("theus")
_SIGNAL = Zone.SIGNAL
_EMPTY: Mapping[str, Any] = types.MappingProxyType({})


def _load_recipe(audit: Any) -> Any:
    if audit is None or isinstance(audit, (AuditRecipe, Mapping)):
        return audit
    if isinstance(audit, (str, os.PathLike)):
        return AuditRecipe.from_yaml(Path(audit))
    raise TypeError(
        f"audit must be an AuditRecipe, a mapping or a YAML path, not {type(audit).__name__}"
    )


class _Restore:
    """Marker context: restore the store from its journal (``TheusEngine.open``)."""


class _Forked:
    """Marker context: the store is a fork of another engine's (``TheusEngine.fork``)."""

    def __init__(self, make: Callable[[list[object]], Store]) -> None:
        self.make = make


def _make_journal(durable: Any, journal: Any) -> Any:
    if durable is not None and journal is not None:
        raise TypeError("give either durable= (a path) or journal=, not both")
    if durable is not None:
        if not isinstance(durable, (str, os.PathLike)):
            raise TypeError(f"durable must be a file path, not {type(durable).__name__}")
        return SqliteJournal(durable)
    return journal


class TheusEngine(ProcessCalls):
    """The Theus engine. See DESIGN.md §7."""

    @classmethod
    def open(cls, path: Any = None, /, *, journal: Any = None, **options: Any) -> TheusEngine:
        """Restore an engine from its durable journal (a file path or ``journal=``): the
        last committed state, the outbox (pending messages included) and workflow runs.
        Register the processes again before running or resuming anything."""
        if path is None and journal is None:
            raise TypeError("TheusEngine.open needs a journal file path or journal=")
        return cls(_Restore(), durable=path, journal=journal, **options)

    def __init__(
        self,
        context: Any = None,
        *,
        strict_mode: bool = True,
        audit: Any = None,
        durable: str | os.PathLike[str] | None = None,
        journal: Any = None,
        hub: SignalHub | None = None,
        executor: Any = None,
        plugins: Iterable[object] = (),
    ) -> None:
        self.strict_mode = bool(strict_mode)
        self._given_plugins = list(plugins)
        self._pm, self._plugin_objects = make_plugin_manager(self._given_plugins)
        # everything that can refuse bad input comes before the journal takes its lock
        self._audit = Auditor(_load_recipe(audit), plugins=self._plugin_objects)
        owned = durable is not None
        journal = _make_journal(durable, journal)
        try:
            if isinstance(context, _Restore):
                self._store = Store.open(journal, plugins=self._plugin_objects)
            elif isinstance(context, _Forked):
                self._store = context.make(self._plugin_objects)
            else:
                if journal is not None and not journal.is_empty():
                    where = getattr(journal, "path", "the journal")
                    raise TheusError(
                        f"{where} already holds a history: restore it with TheusEngine.open()"
                    )
                self._store = Store(context, journal=journal, plugins=self._plugin_objects)
            store_journal = self._store.journal
            path = getattr(store_journal, "path", None)
            self._outbox: Any = (
                # relay marks share the journal's connection: they queue behind commits
                # instead of starving on a second writing connection
                SqliteOutboxStore(
                    path, writer=functools.partial(journal_transaction, store_journal)
                )
                if path
                else MemoryOutboxStore()
            )
        except BaseException:
            if owned and journal is not None:
                journal.close()  # release the file lock taken for us
            raise
        self._signals = hub if hub is not None else SignalHub(plugins=self._plugin_objects)
        self._runs = RunStore(self._store.journal)
        self._registry: dict[str, ProcessSpec] = {}
        self._lanes: dict[ProcessSpec, Any] = {}
        self._run_lanes: dict[Any, Any] = {}
        self._flux_pms: dict[bool, Any] = {}  # see _workflows.flux_plugin_manager
        self._workflows: dict[tuple[Any, str], Any] = {}  # see _workflows.engine_workflow
        self._executor = executor
        self._pool: Any = None
        self._heavy: Any = None
        self._closed = False
        self._lock = threading.Lock()
        self._rules: dict[str, tuple[bool, bool]] = {}
        attach_relays(self)

    # -- properties --------------------------------------------------------------------
    @property
    def state(self) -> State:
        """The current immutable snapshot."""
        return self._store.state

    @property
    def store(self) -> Store:
        return self._store

    @property
    def signals(self) -> SignalHub:
        return self._signals

    @property
    def outbox(self) -> Any:
        return self._outbox

    @property
    def audit(self) -> Auditor:
        return self._audit

    @property
    def plugin_manager(self) -> EnginePluginManager:
        return self._pm

    @property
    def processes(self) -> Mapping[str, ProcessSpec]:
        return types.MappingProxyType(self._registry)

    @property
    def heavy(self) -> Any:
        """The engine's theus-shm ``MemoryRegistry`` (created on first use)."""
        if self._heavy is None:
            with self._lock:
                if self._heavy is None:
                    from theus_shm import MemoryRegistry

                    self._heavy = MemoryRegistry(plugins=self._plugin_objects)
        return self._heavy

    # -- registration --------------------------------------------------------------------
    def register(self, fn: Callable[..., Any], *, name: str | None = None) -> ProcessSpec:
        """Register a process (decorated with ``@process`` or a plain callable, which
        gets an empty EFFECT contract). Returns its spec."""
        spec = spec_of(fn)
        if spec is None:
            if not callable(fn):
                raise InvalidProcess(repr(fn), "not callable")
            process(fn)
            spec = spec_of(fn)
            assert spec is not None
        key = name or spec.name
        existing = self._registry.get(key)
        if existing is not None and existing.fn is not spec.fn:
            raise InvalidProcess(key, "another process is already registered under this name")
        self._registry[key] = spec
        self._add_run_lane(key, spec)
        return spec

    def scan(self, target: Any) -> list[ProcessSpec]:
        """Register every ``@process`` found in a module, a module name, a ``.py`` file or
        a directory of them. Returns the specs found."""
        return [self.register(fn) for fn in scan_target(target)]

    def _resolve(self, target: Any) -> ProcessSpec:
        if isinstance(target, str):
            spec = self._registry.get(target)
            if spec is None:
                raise ProcessNotFound(target, tuple(self._registry))
            return spec
        spec = spec_of(target)
        if spec is None:
            if isinstance(target, ProcessSpec):
                return target
            raise InvalidProcess(repr(target), "not a process: decorate it with @process")
        return spec

    # -- parallel (see _pool) ------------------------------------------------------------
    def get_pool(self) -> Any:
        """The parallel pool (started on first use)."""
        from ._pool import get_pool

        return get_pool(self)

    def _submit_parallel(
        self, spec: ProcessSpec, kwargs: Mapping[str, Any], participants: tuple[Any, ...] = ()
    ) -> Any:
        from ._pool import submit_parallel

        return submit_parallel(self, spec, kwargs, participants)

    def execute_parallel(self, target: Any, /, **kwargs: Any) -> Any:
        """Run a process on the parallel pool and commit its result here; returns the
        process's return value."""
        spec = self._resolve(target)
        return self._submit_parallel(spec, kwargs).result()

    # -- workflows -----------------------------------------------------------------------
    def run_workflow(self, workflow: Any, /, **options: Any) -> list[str]:
        """Run a Flux workflow (YAML path, YAML text or ``Workflow``); returns the executed
        step names."""
        from ._workflows import run_workflow

        return run_workflow(self, workflow, **options)

    async def execute_workflow(self, workflow: Any, /, **options: Any) -> list[str]:
        from ._workflows import execute_workflow

        return await execute_workflow(self, workflow, **options)

    # -- direct state access ---------------------------------------------------------------
    def transaction(self, *, requester: Any = None) -> Transaction:
        """A raw theus-state transaction on the engine's store (no contract)."""
        return self._store.transaction(requester=requester)

    def compare_and_swap(
        self,
        expected_version: int,
        updates: Mapping[str, Any],
        *,
        requester: Any = None,
        strict: bool = False,
    ) -> int:
        return self._store.compare_and_swap(
            expected_version, updates, requester=requester, strict=strict
        )

    # -- durability and history -------------------------------------------------------------
    def at(self, version: int) -> State:
        """The state as it was at ``version`` (time travel, read-only)."""
        return self._store.at(version)

    def history(self, path: str | None = None) -> list[CommitRecord]:
        """Commit records, oldest first (only those touching ``path`` if given)."""
        return list(self._store.history(path))

    def fork(self, version: int | None = None, *, journal: Any = None) -> TheusEngine:
        """A new in-memory (or ``journal=``) engine branching from ``version``, with the
        same processes, mode and audit recipe; the original is never touched."""
        engine = TheusEngine(
            _Forked(lambda plugins: self._store.fork(version, journal=journal, plugins=plugins)),
            strict_mode=self.strict_mode,
            audit=self._audit.recipe,
            plugins=self._given_plugins,  # entry-point plugins load again on their own
        )
        for key, spec in self._registry.items():
            engine.register(spec.fn, name=key)
        return engine

    def workflow_runs(self) -> list[Any]:
        """Records of the workflow runs this engine knows (durable ones from the file)."""
        return self._runs.list()

    def resume_workflow(self, run_id: str, /, **signals: Any) -> list[str]:
        """Continue a paused, failed or interrupted workflow run from its last committed
        step. Keyword arguments are SIGNAL values committed first (``cmd_approve=True``
        commits ``domain.cmd_approve``), e.g. to satisfy a ``flux: wait``."""
        from ._workflows import resume_workflow

        return resume_workflow(self, run_id, signals)

    async def aresume_workflow(self, run_id: str, /, **signals: Any) -> list[str]:
        from ._workflows import aresume_workflow

        return await aresume_workflow(self, run_id, signals)

    def relay(self, sink: Callable[[Any], Any], **options: Any) -> Relay:
        """A :class:`theus_signals.Relay` from the engine's outbox to ``sink``."""
        return Relay(self._outbox, sink, plugins=self._plugin_objects, **options)

    def _collector_for(self, tx: Transaction) -> OutboxCollector:
        collector = OutboxCollector(self._outbox)
        tx.attach(collector)
        return collector

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Shut the pool, close the hub and release owned shared memory (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._heavy is not None:
            self._heavy.close()
        self._signals.close()
        close_outbox = getattr(self._outbox, "close", None)
        if close_outbox is not None:
            close_outbox()
        self._store.close()

    def __enter__(self) -> TheusEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "strict" if self.strict_mode else "fast"
        return f"<TheusEngine {mode} version={self.state.version} processes={len(self._registry)}>"
