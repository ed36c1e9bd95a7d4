"""Parent side of a parallel call: refusal checks, the task payload, and the commit.

Rules / theory of operation:
- Before anything is sent, the process function must be reachable by reference from a
  fresh interpreter: a plain module-level function of an importable module (not
  ``__main__``, not a lambda, closure or nested function). Anything else raises
  :class:`InvalidProcess` at once, on every backend (cached per process).
- Then ``engine._begin`` (input audit, ``theus_process_before``); the payload carries the
  declared non-glob DATA/CONSTANT inputs read from the current snapshot and thawed to
  plain data, the HEAVY inputs as objects (a theus-shm ``ShmArray`` pickles as its segment
  name: nothing is copied), and the call arguments.
- The worker's outcome comes back as bytes; the pool's raw future completes on a pool
  thread, which decodes it and commits it like a local call's result (contract check,
  output audit, signals, ``theus_process_after``), in a transaction based on
  the snapshot the worker read, with the declared inputs in its read set: if an input or
  output changed meanwhile the commit conflicts and the body runs again on fresh inputs
  (ConflictManager backoff and VIP ticket), so concurrent read-modify-write calls never
  lose updates. Writes made through the worker's ``ctx`` are committed as a
  ``StateUpdate`` when the body returned None. The caller's future then resolves to the
  body's return value.
- Failures: the body's exception is re-raised as is (unpickled; the worker traceback is
  attached as a note); crashes, timeouts and undecodable outcomes raise
  :class:`ParallelError`. Both pass through ``engine._failed`` first.
"""

from __future__ import annotations

import importlib.machinery
import itertools
import logging
import os
import pickle
import sys
import time
import types
from collections.abc import Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from theus_state import ConflictError, State, Transaction, Zone, thaw

from ._context import _Run
from ._results import StateUpdate
from ._workers import WorkerLost
from .exceptions import InvalidProcess, ParallelError

if TYPE_CHECKING:
    from ._contracts import ProcessSpec
    from ._engine import TheusEngine

__all__ = ["check_portable", "needs_processes", "submit_task"]

_log = logging.getLogger("theus.pool")
PROTOCOL = 5
_portable: dict[int, tuple[Any, str]] = {}
_NUMPY_MODULES = ("numpy", "theus_shm")


def _refuse(spec: ProcessSpec, why: str) -> InvalidProcess:
    return InvalidProcess(
        spec.name,
        f"cannot run in parallel: {why}; parallel processes must be module-level functions "
        "of an importable module (workers import them by name)",
    )


def _importable(module: str) -> bool:
    top = module.partition(".")[0]
    if top in sys.builtin_module_names:
        return True
    return importlib.machinery.PathFinder.find_spec(top, sys.path) is not None


def check_portable(spec: ProcessSpec) -> None:
    """Raise :class:`InvalidProcess` unless workers can import ``spec.fn`` by name."""
    fn = spec.fn
    cached = _portable.get(id(spec))
    if cached is not None and cached[0] is fn:
        if cached[1]:
            raise _refuse(spec, cached[1])
        return
    why = _why_not_portable(fn)
    _portable[id(spec)] = (fn, why)
    if why:
        raise _refuse(spec, why)


def _why_not_portable(fn: Any) -> str:
    if not isinstance(fn, types.FunctionType):
        return f"{type(fn).__name__} objects are not supported, only plain functions"
    module, qualname = fn.__module__, fn.__qualname__
    if fn.__name__ == "<lambda>" or "<lambda>" in qualname:
        return "it is a lambda"
    if module in (None, "__main__", "__mp_main__"):
        return f"{qualname!r} is defined in __main__, which workers cannot import"
    if "<locals>" in qualname:
        return f"{qualname!r} is a nested function"
    if fn.__closure__:
        return f"{qualname!r} is a closure"
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if obj is not fn:
        return f"{module}.{qualname} does not name this function"
    if not _importable(module):
        return f"module {module!r} is not importable by name from sys.path"
    return ""


def _is_array(value: Any) -> bool:
    return type(value).__module__.partition(".")[0] in _NUMPY_MODULES or hasattr(
        value, "__array_interface__"
    )


def needs_processes(spec: ProcessSpec, kwargs: Mapping[str, Any]) -> str:
    """Why this call cannot run in a sub-interpreter ("" when it can)."""
    for pat in spec.input_patterns:
        if pat.zone is Zone.HEAVY:
            return f"HEAVY input {pat.text!r} needs numpy"
    for key, value in kwargs.items():
        if _is_array(value):
            return f"array argument {key!r} needs numpy"
    return ""


def build_payload(state: State, spec: ProcessSpec, kwargs: Mapping[str, Any]) -> bytes:
    layers: dict[str, dict[str, Any]] = {}
    heavy: dict[str, Any] = {}
    for pat in spec.input_patterns:
        if pat.is_glob:
            continue
        value = state.get(pat.text, _MISSING)
        if value is _MISSING:
            continue
        keys = pat.text.split(".")
        if pat.zone is Zone.HEAVY:
            heavy[pat.text] = value
            if getattr(value, "shm_name", None) is None:
                _note_copied(spec, pat.text, value)
        else:
            value = thaw(value)
        node = layers.setdefault(keys[0], {})
        for key in keys[1:-1]:
            child = node.get(key)
            if type(child) is not dict:
                child = node[key] = {}
            node = child
        node[keys[-1]] = value
    fn = spec.fn
    call_id = (_SALT, next(_ids))  # identical calls stay distinct (Dask deduplicates pure tasks)
    task = (
        1,
        fn.__module__,
        fn.__qualname__,
        spec.name,
        layers,
        heavy,
        dict(kwargs),
        None,
        call_id,
    )
    try:
        return pickle.dumps(task, PROTOCOL)
    except Exception as exc:
        raise ParallelError(
            spec.name, f"arguments or inputs cannot be sent to a worker: {exc}"
        ) from exc


_MISSING = object()
_copied: set[tuple[str, str]] = set()


def _note_copied(spec: ProcessSpec, path: str, value: Any) -> None:
    if (spec.name, path) in _copied:
        return
    _copied.add((spec.name, path))
    _log.info(
        "HEAVY input %s of parallel process %r is a %s outside shared memory: it is copied "
        "to the worker on every call (allocate it with engine.heavy.alloc for zero-copy)",
        path,
        spec.name,
        type(value).__name__,
    )


_SALT = os.urandom(8)
_ids = itertools.count()


def _decode(spec: ProcessSpec, raw: bytes) -> tuple[bool, Any, dict[str, Any]]:
    """(ok, value or exception, writes), logging the worker's ``ctx.log`` lines."""
    try:
        outcome = pickle.loads(raw)
    except Exception as bad:  # noqa: BLE001 - any failure of a worker or commit goes to the caller
        return False, ParallelError(spec.name, f"cannot unpickle the worker's result: {bad}"), {}
    logger = logging.getLogger(f"theus.process.{spec.name}")
    if outcome[0] == "ok":
        _, value, writes, logs = outcome
        for level, line in logs:
            logger.log(level, line)
        return True, value, writes
    _, blob, type_name, message, text, logs = outcome
    for level, line in logs:
        logger.log(level, line)
    exc: Any = None
    if blob is not None:
        try:
            exc = pickle.loads(blob)
        except Exception as err:  # noqa: BLE001 - any failure of a worker or commit goes to the caller
            _log.debug("cannot unpickle %s from a worker: %s", type_name, err)
    if not isinstance(exc, BaseException):
        exc = ParallelError(spec.name, f"worker raised {type_name}: {message}")
    exc.add_note(f"worker traceback of parallel process {spec.name!r}:\n{text.rstrip()}")
    return False, exc, {}


class _Call:
    """One parallel call: sends the task, and commits or re-sends its outcome."""

    __slots__ = (
        "base",
        "engine",
        "kwargs",
        "participants",
        "pool",
        "requester",
        "result",
        "spec",
    )

    def __init__(
        self,
        engine: TheusEngine,
        spec: ProcessSpec,
        kwargs: Mapping[str, Any],
        pool: Any,
        participants: tuple[Any, ...] = (),
    ) -> None:
        self.engine = engine
        self.spec = spec
        self.kwargs = kwargs
        self.pool = pool
        self.participants = participants  # commit participants (a durable run's position)
        self.result: Future[Any] = Future()
        self.result.set_running_or_notify_cancel()
        self.requester = (spec.name, "parallel", id(self.result))
        self.base: State = engine.state

    def send(self) -> None:
        self.base = self.engine.state
        data = build_payload(self.base, self.spec, self.kwargs)
        self.pool.submit(data).add_done_callback(self._done)

    def _fail(self, exc: BaseException, report: bool = True) -> None:
        if report:
            self.engine._failed(self.spec, exc)
        self.result.set_exception(exc)

    def _done(self, raw: Future[bytes]) -> None:
        spec = self.spec
        try:
            try:
                blob = raw.result()
            except WorkerLost as exc:
                raise ParallelError(spec.name, exc.reason) from None
            except BaseException as exc:  # an executor's own failure (KilledWorker ...)
                raise ParallelError(spec.name, f"{type(exc).__name__}: {exc}") from exc
            ok, value, writes = _decode(spec, blob)
            if not ok:
                raise value
        except BaseException as exc:  # noqa: BLE001 - any failure of a worker or commit goes to the caller
            self._fail(exc)
            return
        if writes and value is not None:
            _log.warning(
                "parallel process %r returned a value: its ctx writes %s are ignored",
                spec.name,
                sorted(writes),
            )
        update = StateUpdate(writes) if writes and value is None else value
        try:
            self._commit(update, value)
        except ConflictError:
            decision = self.engine._store.conflict_manager.report_conflict(self.requester)
            if decision.wait_s:
                time.sleep(decision.wait_s)
            try:
                self.send()  # the inputs changed under the worker: run the body again
            except BaseException as exc:  # noqa: BLE001 - any failure of a worker or commit goes to the caller
                self._fail(exc)
            return
        except BaseException as exc:  # noqa: BLE001 - any failure of a worker or commit goes to the caller
            self._fail(exc, report=False)
            return
        self.result.set_result(value)

    def _commit(self, update: Any, value: Any) -> None:
        """Commit against the snapshot the worker read: a concurrent change of an input
        (or of an output) raises ConflictError, and the caller re-runs the body."""
        engine, spec = self.engine, self.spec
        tx = Transaction(engine._store, self.base, self.requester)
        for participant in self.participants:
            tx.attach(participant)
        for pat in spec.input_patterns:
            if not pat.is_glob and pat.zone is not Zone.HEAVY:
                tx.get(pat.text, None)  # record the read set
        run = _Run(engine, spec, tx, engine.strict_mode)
        try:
            version = engine._finish_attempt(run, update)
        except ConflictError:
            raise
        except BaseException as exc:
            engine._attempt_failed(spec, tx, exc)
            raise
        engine._attempt_committed(spec, tx, value, version)


def submit_task(
    engine: TheusEngine,
    spec: ProcessSpec,
    kwargs: Mapping[str, Any],
    pool: Any,
    participants: tuple[Any, ...] = (),
) -> Future[Any]:
    """``engine._begin``, then send the task; returns the caller's future. The result
    commits with ``participants`` attached (in the same SQL transaction when durable)."""
    engine._begin(spec, kwargs)
    call = _Call(engine, spec, kwargs, pool, participants)
    try:
        call.send()
    except BaseException as exc:
        engine._failed(spec, exc)
        raise
    return call.result
