"""The engine's parallel pool: backend choice, per-module routing, pluggable executors.

Rules / theory of operation:
- ``get_pool(engine)`` creates the pool once (under the engine lock) and stores it in
  ``engine._pool``; ``engine.close()`` shuts it down. The backend, in order:
  ``TheusEngine(executor=...)``, else the first non-None ``theus_make_executor`` hook
  answer → :class:`ExecutorPool` (``kind="executor"``, the executor is not shut down by
  theus: its creator owns it); else ``THEUS_USE_PROCESSES=1`` or no sub-interpreter API →
  :class:`ProcessPool`; else :class:`InterpreterPool`.
- The InterpreterPool routes per process: a process whose module does not import in a
  sub-interpreter (real probe, cached per module), that reads HEAVY inputs or receives
  shared-memory/numpy arguments (numpy cannot load there) runs on a spawn ProcessPool
  created on first need. Each process's route is logged and reported to
  ``theus_pool_selected`` once per pool.
- Sizes: ``THEUS_POOL_SIZE`` (default: CPU count). Timeouts: ``THEUS_POOL_TIMEOUT``
  (seconds) or ``pool.timeout = s`` (None: no limit). A timed-out process worker is
  killed and replaced; a sub-interpreter is abandoned and replaced; an executor's task
  is cancelled if it has not started (a running one cannot be stopped from here).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    InvalidStateError,
    ProcessPoolExecutor,
)
from typing import TYPE_CHECKING, Any

from . import _interp
from ._parallel import check_portable, needs_processes, submit_task
from ._workers import InterpWorker, ProcessWorker, SlotPool, Worker, WorkerLost
from .exceptions import ParallelError, TheusError

if TYPE_CHECKING:
    from ._contracts import ProcessSpec
    from ._engine import TheusEngine

__all__ = [
    "ExecutorPool",
    "InterpreterPool",
    "ProcessPool",
    "get_pool",
    "pool_size",
    "pool_timeout",
    "submit_parallel",
]

_log = logging.getLogger("theus.pool")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def pool_size() -> int:
    """``THEUS_POOL_SIZE`` or the CPU count."""
    raw = os.environ.get("THEUS_POOL_SIZE", "").strip()
    if not raw:
        return max(1, os.cpu_count() or 1)
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise TheusError(f"THEUS_POOL_SIZE must be a positive integer, not {raw!r}")
    return size


def pool_timeout() -> float | None:
    """``THEUS_POOL_TIMEOUT`` in seconds, or None."""
    raw = os.environ.get("THEUS_POOL_TIMEOUT", "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise TheusError(f"THEUS_POOL_TIMEOUT must be a positive number of seconds, not {raw!r}")
    return value


class _Routing:
    """Per-process routing decisions (logged and hooked once per pool)."""

    def __init__(self, engine: TheusEngine | None) -> None:
        self._engine = engine
        self._seen: dict[int, str] = {}
        self._lock = threading.Lock()

    def announce(self, spec: ProcessSpec, kind: str, why: str = "") -> None:
        if self._seen.get(id(spec)) == kind:
            return
        with self._lock:
            if self._seen.get(id(spec)) == kind:
                return
            self._seen[id(spec)] = kind
        _log.info("parallel process %r runs on %s%s", spec.name, kind, f" ({why})" if why else "")
        engine = self._engine
        if engine is not None and engine._pm.active.get("theus_pool_selected"):
            engine._pm.hook.theus_pool_selected(engine=engine, process=spec, kind=kind)


class ProcessPool(SlotPool):
    """Spawned worker processes (crash-isolated; see :mod:`theus._workers`)."""

    kind = "processes"

    def __init__(
        self, size: int | None = None, *, timeout: float | None = None, engine: Any = None
    ) -> None:
        self.routing = _Routing(engine)
        super().__init__(size or pool_size(), timeout if timeout is not None else pool_timeout())

    def _make_worker(self) -> Worker:
        return ProcessWorker()

    def route(self, spec: ProcessSpec, kwargs: Mapping[str, Any]) -> SlotPool:
        self.routing.announce(spec, self.kind)
        return self

    def backend_for(self, spec: ProcessSpec, kwargs: Mapping[str, Any] = {}) -> str:
        return self.kind


class InterpreterPool(SlotPool):
    """Isolated sub-interpreters (own GIL each), with a spawn ProcessPool fallback for
    modules that cannot load in a sub-interpreter."""

    kind = "interpreters"

    def __init__(
        self, size: int | None = None, *, timeout: float | None = None, engine: Any = None
    ) -> None:
        backend = _interp.api()
        if backend is None:
            raise TheusError("this Python has no sub-interpreter API (3.13+ or a backport)")
        self.api = backend
        self.routing = _Routing(engine)
        self._engine = engine
        self._fallback: ProcessPool | None = None
        self._fallback_lock = threading.Lock()
        super().__init__(size or pool_size(), timeout if timeout is not None else pool_timeout())

    def _make_worker(self) -> Worker:
        return InterpWorker(self.api)

    @property
    def fallback(self) -> ProcessPool:
        """The spawn process pool for processes that cannot run here (created lazily)."""
        with self._fallback_lock:
            if self._fallback is None:
                if self._closed:
                    raise RuntimeError("the interpreters pool is shut down")
                self._fallback = ProcessPool(self.size, timeout=self.timeout)
            return self._fallback

    def backend_for(self, spec: ProcessSpec, kwargs: Mapping[str, Any] = {}) -> str:
        """``"interpreters"`` or ``"processes"``: where this call of ``spec`` would run."""
        return self._choose(spec, kwargs)[0]

    def _choose(self, spec: ProcessSpec, kwargs: Mapping[str, Any]) -> tuple[str, str]:
        why = needs_processes(spec, kwargs)
        if why:
            return "processes", why
        ok, reason = _interp.probe_module(spec.fn.__module__)
        if not ok:
            return (
                "processes",
                f"module {spec.fn.__module__} cannot load in a sub-interpreter: {reason}",
            )
        return "interpreters", ""

    def route(self, spec: ProcessSpec, kwargs: Mapping[str, Any]) -> SlotPool:
        kind, why = self._choose(spec, kwargs)
        self.routing.announce(spec, kind, why)
        if kind == "interpreters":
            return self
        pool = self.fallback
        pool.timeout = self.timeout
        return pool

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)
        with self._fallback_lock:
            if self._fallback is not None:
                self._fallback.shutdown(wait)


class ExecutorPool:
    """Any ``concurrent.futures.Executor`` (a Dask client's, a ThreadPoolExecutor ...).
    Its owner shuts it down; ``shutdown`` here only stops submitting. A broken
    ``ProcessPoolExecutor`` (a worker died) is replaced transparently by a new one."""

    kind = "executor"

    def __init__(self, executor: Executor, *, engine: Any = None) -> None:
        if not callable(getattr(executor, "submit", None)):
            raise TypeError(
                f"executor must be a concurrent.futures.Executor, not {type(executor).__name__}"
            )
        self.executor = executor
        self.timeout: float | None = pool_timeout()
        self.size = getattr(executor, "_max_workers", None)
        self.routing = _Routing(engine)
        self._closed = False
        self._lock = threading.Lock()
        self._owned: list[Executor] = []

    def route(self, spec: ProcessSpec, kwargs: Mapping[str, Any]) -> ExecutorPool:
        self.routing.announce(spec, self.kind)
        return self

    def backend_for(self, spec: ProcessSpec, kwargs: Mapping[str, Any] = {}) -> str:
        return self.kind

    def submit(self, data: bytes, timeout: float | None = None) -> Future[bytes]:
        if self._closed:
            raise RuntimeError("the executor pool is shut down")
        from ._pworker import run_payload

        try:
            future = self.executor.submit(run_payload, data)
        except BrokenExecutor as exc:
            if not self._renew(exc):
                raise RuntimeError(f"the executor is broken: {exc}") from exc
            future = self.executor.submit(run_payload, data)
        limit = timeout if timeout is not None else self.timeout
        return future if limit is None else _with_deadline(future, limit)

    def _renew(self, exc: BaseException) -> bool:
        """Replace a broken ``ProcessPoolExecutor`` by an equivalent one (then owned and
        shut down by theus); other executors cannot be rebuilt."""
        with self._lock:
            old = self.executor
            if not isinstance(old, ProcessPoolExecutor):
                return False
            if not getattr(old, "_broken", False):
                return True  # another thread renewed it already
            _log.warning("the process pool executor broke (%s): starting a new one", exc)
            self.executor = ProcessPoolExecutor(
                max_workers=getattr(old, "_max_workers", None),
                mp_context=getattr(old, "_mp_context", None),
            )
            self._owned.append(self.executor)
            old.shutdown(wait=False, cancel_futures=True)
            return True

    def warm(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, wait: bool = True) -> None:
        self._closed = True
        for executor in self._owned:
            executor.shutdown(wait=wait)

    def __repr__(self) -> str:
        return f"<ExecutorPool {type(self.executor).__name__}>"


def _with_deadline(inner: Future[bytes], limit: float) -> Future[bytes]:
    """A future failing with WorkerLost after ``limit`` seconds (an executor's task
    cannot be killed from here: it is cancelled if it has not started)."""
    outer: Future[bytes] = Future()
    outer.set_running_or_notify_cancel()

    def expire() -> None:
        if not inner.done():
            inner.cancel()
            _settle(outer, exc=WorkerLost(f"timed out (no result within {limit:g}s)"))

    timer = threading.Timer(limit, expire)
    timer.daemon = True

    def copy(done: Future[bytes]) -> None:
        timer.cancel()
        if done.cancelled():
            return
        exc = done.exception()
        if exc is not None:
            _settle(outer, exc=exc)
        else:
            _settle(outer, value=done.result())

    inner.add_done_callback(copy)
    timer.start()
    return outer


def _settle(future: Future[bytes], value: bytes = b"", exc: BaseException | None = None) -> None:
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)
    except InvalidStateError:
        pass  # the deadline and the result raced: the first one won


AnyPool = InterpreterPool | ProcessPool | ExecutorPool


def _make_pool(engine: TheusEngine) -> AnyPool:
    executor = engine._executor
    if executor is None and engine._pm.active.get("theus_make_executor"):
        executor = engine._pm.hook.theus_make_executor(engine=engine)
    if executor is not None:
        pool: AnyPool = ExecutorPool(executor, engine=engine)
        why = f"{type(executor).__name__} given"
    elif _env_flag("THEUS_USE_PROCESSES"):
        pool, why = ProcessPool(engine=engine), "THEUS_USE_PROCESSES=1"
    elif _interp.api() is None:
        pool, why = ProcessPool(engine=engine), "no sub-interpreter API on this Python"
    else:
        pool = InterpreterPool(engine=engine)
        why = f"sub-interpreters via {pool.api.name}"
    _log.info("theus parallel pool: %s (%s), size %s", pool.kind, why, pool.size)
    return pool


def get_pool(engine: TheusEngine) -> AnyPool:
    """The engine's pool, created on first use."""
    pool = engine._pool
    if pool is None:
        with engine._lock:
            pool = engine._pool
            if pool is None:
                if engine._closed:
                    raise TheusError("the engine is closed")
                pool = engine._pool = _make_pool(engine)
    return pool  # type: ignore[no-any-return]


def submit_parallel(
    engine: TheusEngine,
    spec: ProcessSpec,
    kwargs: Mapping[str, Any],
    participants: tuple[Any, ...] = (),
) -> Future[Any]:
    """Run ``spec`` on the pool; the future resolves to its return value once the parent
    committed it, with ``participants`` (see :mod:`theus._parallel`)."""
    check_portable(spec)
    pool = get_pool(engine)
    target = pool.route(spec, kwargs)
    try:
        return submit_task(engine, spec, kwargs, target, participants)
    except RuntimeError as exc:
        if isinstance(exc, TheusError):
            raise
        raise ParallelError(spec.name, str(exc)) from exc
