"""Process calls: each run is an atomic transaction over the theus-state Store.

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
import functools
import threading
import time
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from theus_audit import AuditError, Auditor
from theus_signals import SignalHub
from theus_state import ConflictError, Store, Transaction

from ._context import _Run, make_context
from ._contracts import ProcessSpec
from ._lane import FastLane, fast_lane
from ._plugins import EnginePluginManager
from ._results import apply_result
from .exceptions import TheusError

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["ProcessCalls"]

_EMPTY: Mapping[str, Any] = types.MappingProxyType({})
_LANES_MAX = 1024


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


class ProcessCalls:
    """Base of :class:`TheusEngine`: running one process call."""

    strict_mode: bool
    _store: Store
    _audit: Auditor
    _signals: SignalHub
    _pm: EnginePluginManager
    _closed: bool
    _rules: dict[str, tuple[bool, bool]]
    _registry: dict[str, ProcessSpec]
    _lanes: dict[ProcessSpec, FastLane]
    _run_lanes: dict[Any, Callable[..., Any]]

    def _resolve(self, target: Any) -> ProcessSpec:  # pragma: no cover - see TheusEngine
        raise NotImplementedError

    def _submit_parallel(
        self, spec: ProcessSpec, kwargs: Mapping[str, Any], participants: tuple[Any, ...] = ()
    ) -> Future[Any]:
        raise NotImplementedError  # pragma: no cover - see TheusEngine

    def execute_parallel(self, target: Any, /, **kwargs: Any) -> Any:
        raise NotImplementedError  # pragma: no cover - see TheusEngine

    def _collector_for(self, tx: Any) -> Any:
        raise NotImplementedError  # pragma: no cover - see TheusEngine

    @property
    def durable(self) -> bool:
        return bool(getattr(self._store.journal, "durable", False))

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

    def run(self, target: Any, /, **kwargs: Any) -> Any:
        """Run a process synchronously (name or function); returns its return value."""
        try:
            lane = self._run_lanes.get(target)  # a registered sync process
        except TypeError:  # unhashable: ``_resolve`` says what is wrong with it
            lane = None
        if lane is not None:
            return lane(kwargs)
        spec = self._resolve(target)
        if spec.inline:
            return self._call(spec, kwargs)
        if spec.parallel:
            return self.execute_parallel(spec, **kwargs)
        return asyncio.run(self.execute(spec, **kwargs))

    def _add_run_lane(self, key: Any, spec: ProcessSpec) -> None:
        """Let ``run(key)`` go straight to the call of ``spec`` (registered sync processes,
        by name and by function)."""
        if spec.inline:
            lane = self._lane(spec) if not self.strict_mode else functools.partial(self._call, spec)
            self._run_lanes[key] = self._run_lanes[spec.fn] = lane

    def _lane(self, spec: ProcessSpec) -> FastLane:
        """The fast-mode hot path of ``spec`` (see ``_fast.fast_lane``), made once."""
        lane = self._lanes.get(spec)
        if lane is None:
            if len(self._lanes) >= _LANES_MAX:  # unregistered processes made on the fly
                self._lanes.clear()
            lane = self._lanes[spec] = fast_lane(self, spec)
        return lane

    async def execute(self, target: Any, /, **kwargs: Any) -> Any:
        """Run a process from asyncio: sync bodies inline (no thread hop), async awaited."""
        return await self._execute(self._resolve(target), kwargs)

    async def _execute(
        self, spec: ProcessSpec, kwargs: Mapping[str, Any], participants: tuple[Any, ...] = ()
    ) -> Any:
        if spec.parallel:
            loop = asyncio.get_running_loop()
            future = self._submit_parallel(spec, kwargs, participants)
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
        if not self.strict_mode:
            return self._call_fast(spec, kwargs, participants)
        self._begin(spec, kwargs)
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
        """``strict_mode=False``: the process's lane (see ``_fast``)."""
        return self._lane(spec)(kwargs, participants)

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
