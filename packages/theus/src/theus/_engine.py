"""TheusEngine: processes run as atomic transactions over a theus-state Store.

Rules / theory of operation (one process call):
1. Resolve the process (name or function); refuse at once while the auditor is stopped.
2. Input audit (call arguments + declared inputs by last segment; arguments win), then
   the ``theus_process_before`` hook.
3. Attempt: a fresh transaction and a guarded ``ctx``; run the body (sync inline, async
   awaited); map the return value onto the outputs; output audit on the values about to
   be committed; commit (outbox batch included, atomically).
4. A ``ConflictError`` at commit re-runs the attempt under the ConflictManager policy
   (backoff, then the VIP ticket): contention never fails a call. Bodies may therefore
   run more than once; effects outside the context belong in ``ctx.outbox``.
5. Any other exception rolls the transaction back (DATA, outbox, signals; HEAVY writes
   are write-through and stay), is recorded by the auditor unless declared in
   ``errors``, fires ``theus_process_error`` and propagates unchanged.
6. After the commit: SIGNAL values written by this call are published on the hub (topic
   = full path), in write order, exactly once; the auditor records a success; the
   ``theus_process_after`` hook fires; the body's return value is returned.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from theus_audit import AuditError, Auditor, AuditRecipe
from theus_signals import MemoryOutboxStore, OutboxCollector, Relay, SignalHub, SqliteOutboxStore
from theus_state import (
    CommitRecord,
    ConflictError,
    SqliteJournal,
    State,
    Store,
    Transaction,
    Zone,
    freeze,
    parse_path,
)

from ._context import _Run, make_context
from ._contracts import ProcessSpec, process, spec_of
from ._fast import FastRun
from ._plugins import EnginePluginManager, make_plugin_manager
from ._relay import attach_relays
from ._results import apply_result
from ._runs import RunStore
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


async def _vip_turn(cm: Any, requester: Any) -> None:
    """The asyncio form of ``ConflictManager.wait_turn``: yield to the event loop while
    another requester holds the VIP ticket (bounded by ``cm.vip_wait``)."""
    vip = cm.vip
    if vip is None or vip == requester:
        return
    deadline = time.monotonic() + cm.vip_wait
    while time.monotonic() < deadline:
        await asyncio.sleep(0.0005)
        vip = cm.vip
        if vip is None or vip == requester:
            return


class _Restore:
    """Marker context: restore the store from its journal (``TheusEngine.open``)."""


def _make_journal(durable: Any, journal: Any) -> Any:
    if durable is not None and journal is not None:
        raise TypeError("give either durable= (a path) or journal=, not both")
    if durable is not None:
        if not isinstance(durable, (str, os.PathLike)):
            raise TypeError(f"durable must be a file path, not {type(durable).__name__}")
        return SqliteJournal(durable)
    return journal


class TheusEngine:
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
        self._pm, self._plugin_objects = make_plugin_manager(plugins)
        # everything that can refuse bad input comes before the journal takes its lock
        self._audit = Auditor(_load_recipe(audit), plugins=self._plugin_objects)
        owned = durable is not None
        journal = _make_journal(durable, journal)
        try:
            if isinstance(context, _Restore):
                self._store = Store.open(journal, plugins=self._plugin_objects)
            else:
                if journal is not None and not journal.is_empty():
                    where = getattr(journal, "path", "the journal")
                    raise TheusError(
                        f"{where} already holds a history: restore it with TheusEngine.open()"
                    )
                self._store = Store(context, journal=journal, plugins=self._plugin_objects)
            path = getattr(journal, "path", None) if journal is not None else None
            self._outbox: Any = (
                SqliteOutboxStore(path, writer=self._journal_writer)
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

    # -- audit helpers -------------------------------------------------------------------
    def _rule_flags(self, name: str) -> tuple[bool, bool]:
        flags = self._rules.get(name)
        if flags is None:
            proc = self._audit.recipe.processes.get(name)
            flags = (bool(proc and proc.inputs), bool(proc and proc.outputs))
            self._rules[name] = flags
        return flags

    def _input_values(self, spec: ProcessSpec, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        state = self._store.state
        values: dict[str, Any] = {}
        for pat in spec.input_patterns:
            if not pat.is_glob:
                v = state.get(pat.text, None)
                values[pat.text] = v
                values[pat.text.rsplit(".", 1)[-1]] = v
        values.update(kwargs)
        return values

    def _audit_inputs(self, spec: ProcessSpec, kwargs: Mapping[str, Any]) -> None:
        audit = self._audit
        has_inputs = self._rule_flags(spec.name)[0]
        decision = audit.check_inputs(
            spec.name, self._input_values(spec, kwargs) if has_inputs else _EMPTY
        )
        if not decision.ok:
            decision.raise_for_level()

    def _audit_outputs(self, spec: ProcessSpec, writes: Mapping[str, Any]) -> None:
        values: dict[str, Any] = {}
        if self._rule_flags(spec.name)[1]:
            for text, value in writes.items():
                values[text] = value
                values[text.rsplit(".", 1)[-1]] = value
        decision = self._audit.check_outputs(spec.name, values)
        if not decision.ok:
            decision.raise_for_level()

    # -- running -------------------------------------------------------------------------
    def run(self, target: Any, /, **kwargs: Any) -> Any:
        """Run a process synchronously (name or function); returns its return value."""
        spec = self._resolve(target)
        if spec.parallel:
            return self.execute_parallel(spec, **kwargs)
        if spec.is_async:
            return asyncio.run(self.execute(spec, **kwargs))
        return self._call(spec, kwargs)

    async def execute(self, target: Any, /, **kwargs: Any) -> Any:
        """Run a process from asyncio: sync bodies inline (no thread hop), async awaited."""
        return await self._execute(self._resolve(target), kwargs)

    async def _execute(
        self, spec: ProcessSpec, kwargs: Mapping[str, Any], participants: tuple[Any, ...] = ()
    ) -> Any:
        if spec.parallel:
            loop = asyncio.get_running_loop()
            future = self._submit_parallel(spec, kwargs)
            return await asyncio.wrap_future(future, loop=loop)
        if not spec.is_async:
            return self._call(spec, kwargs, participants)
        self._begin(spec, kwargs)
        cm = self._store.conflict_manager
        durable = self.durable
        requester = (spec.name, threading.get_ident(), id(asyncio.current_task()))
        while True:
            tx = self._store.transaction(requester=requester)
            for participant in participants:
                tx.attach(participant)
            run = _Run(self, spec, tx, self.strict_mode)
            try:
                result = await spec.fn(make_context(run), **kwargs)
                await _vip_turn(cm, requester)
                if durable:  # the commit waits for fsync: keep the event loop running
                    version = await asyncio.to_thread(self._finish_attempt, run, result, wait=False)
                else:
                    version = self._finish_attempt(run, result, wait=False)
            except ConflictError:
                decision = cm.report_conflict(requester)
                if decision.wait_s:
                    await asyncio.sleep(decision.wait_s)
                continue
            except BaseException as exc:
                self._attempt_failed(spec, tx, exc)
                raise
            return self._attempt_committed(spec, tx, result, version)

    def _call(
        self, spec: ProcessSpec, kwargs: Mapping[str, Any], participants: tuple[Any, ...] = ()
    ) -> Any:
        self._begin(spec, kwargs)
        if not self.strict_mode:
            return self._call_fast(spec, kwargs, participants)
        store = self._store
        requester = (spec.name, threading.get_ident())
        fn = spec.fn
        while True:
            tx = Transaction(store, store._state, requester)
            for participant in participants:
                tx.attach(participant)
            run = _Run(self, spec, tx, True)
            try:
                result = fn(make_context(run), **kwargs)
                version = self._finish_attempt(run, result)
            except ConflictError:
                decision = store.conflict_manager.report_conflict(requester)
                if decision.wait_s:
                    time.sleep(decision.wait_s)
                continue
            except BaseException as exc:
                self._attempt_failed(spec, tx, exc)
                raise
            return self._attempt_committed(spec, tx, result, version)

    def _call_fast(
        self, spec: ProcessSpec, kwargs: Mapping[str, Any], participants: tuple[Any, ...] = ()
    ) -> Any:
        run = FastRun(self, spec, self._store._state)
        for participant in participants:
            run.attach(participant)
        try:
            result = spec.fn(make_context(run), **kwargs)
            if result is not None:
                apply_result(run, result)  # type: ignore[arg-type]
            if not self._audit.is_clear(spec.name, "outputs"):
                self._audit_outputs(spec, run.writes)
            version = run.commit()
        except BaseException as exc:
            run.abort()
            self._failed(spec, exc)
            raise
        if run.writes:
            signals = {p: freeze(v) for p, v in run.writes.items() if parse_path(p).zone is _SIGNAL}
            if signals:
                self._publish(signals)
        return self._succeeded(spec, result, version)

    def _begin(self, spec: ProcessSpec, kwargs: Mapping[str, Any]) -> None:
        if self._closed:
            raise TheusError("the engine is closed")
        if not self._audit.is_clear(spec.name):
            self._audit_inputs(spec, kwargs)
        if self._pm.active.get("theus_process_before"):
            self._pm.hook.theus_process_before(engine=self, process=spec, kwargs=kwargs)

    def _finish_attempt(self, run: _Run, result: Any, *, wait: bool = True) -> int:
        if result is not None:
            apply_result(run, result)
        tx = run.tx
        if not self._audit.is_clear(run.spec.name, "outputs"):
            self._audit_outputs(run.spec, tx.writes)
        return tx.commit(wait=wait)

    def _attempt_failed(self, spec: ProcessSpec, tx: Transaction, exc: BaseException) -> None:
        """An attempt failed for another reason than a conflict: roll back, report."""
        if tx.status == "open":
            tx._abort(exc)
        self._failed(spec, exc)

    def _attempt_committed(
        self, spec: ProcessSpec, tx: Transaction, result: Any, version: int
    ) -> Any:
        """An attempt committed: publish its signals, report success, return ``result``."""
        if tx._signals and version != tx.version:
            self._publish(tx.signal_writes)
        return self._succeeded(spec, result, version)

    def _publish(self, signals: Mapping[str, Any]) -> None:
        hub = self._signals
        for topic, payload in signals.items():
            hub.publish(topic, payload)

    def _succeeded(self, spec: ProcessSpec, result: Any, version: int) -> Any:
        self._audit.record_success(spec.name)
        if self._pm.active.get("theus_process_after"):
            self._pm.hook.theus_process_after(
                engine=self, process=spec, result=result, version=version
            )
        return result

    def _failed(self, spec: ProcessSpec, exc: BaseException) -> None:
        declared = any(cls.__name__ in spec.errors for cls in type(exc).__mro__)
        if not declared and isinstance(exc, Exception) and not isinstance(exc, AuditError):
            self._audit.record_failure(spec.name, exc)
        if self._pm.active.get("theus_process_error"):
            self._pm.hook.theus_process_error(
                engine=self, process=spec, error=exc, declared=declared
            )

    # -- parallel (see _pool) ------------------------------------------------------------
    def get_pool(self) -> Any:
        """The parallel pool (started on first use)."""
        from ._pool import get_pool

        return get_pool(self)

    def _submit_parallel(self, spec: ProcessSpec, kwargs: Mapping[str, Any]) -> Any:
        from ._pool import submit_parallel

        return submit_parallel(self, spec, kwargs)

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
    @property
    def durable(self) -> bool:
        return bool(getattr(self._store.journal, "durable", False))

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
            None,
            strict_mode=self.strict_mode,
            audit=self._audit.recipe,
            plugins=self._plugin_objects,
        )
        engine._store = self._store.fork(version, journal=journal, plugins=self._plugin_objects)
        engine._runs = RunStore(engine._store.journal)
        attach_relays(engine)
        engine._registry.update(self._registry)
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

    def _journal_writer(self, fn: Callable[[Any], int]) -> int:
        """Outbox writes outside commits (relay marks) share the journal's connection, so
        they queue behind commits instead of starving on a second connection."""
        journal = self._store.journal
        conn = journal.begin()
        try:
            result = fn(conn)
            journal.commit()
        except BaseException:
            journal.rollback()
            raise
        return result

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
