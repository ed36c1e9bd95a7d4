"""Workers of the theus pools: spawned processes and sub-interpreters, and the slot
threads that drive them.

Rules / theory of operation:
- A pool has ``size`` slots; each slot is one daemon thread that owns one worker and takes
  tasks ``(future, data)`` from the pool's shared queue, one at a time: a blocking
  ``worker.run(data)`` per task, so the fast path is one queue hand-off plus the worker
  round trip, with no polling anywhere.
- A process worker is ``python -c <boot>`` with two pipes (``pass_fds``); it loads
  ``_pworker.py`` by path with the parent's ``sys.path`` and answers ``b"ready"``. A worker
  that dies (SIGKILL, segfault, ``os._exit``) closes its pipe: the slot sees EOF, fails
  *only its own task* with :class:`WorkerLost`, starts a fresh worker and goes on.
- Timeouts: a watchdog thread (started with the first deadline) expires slots whose task
  is overdue. A process worker is killed (its slot then reports the timeout as above); a
  sub-interpreter cannot be interrupted, so its task is failed at once, the slot is
  abandoned (its thread destroys the interpreter when the body finally returns) and a
  replacement slot is started.
- Shutdown: a ``None`` per slot ends the threads after the queued tasks; pending futures
  left afterwards are cancelled; worker processes get EOF, then SIGKILL after a grace delay.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any, Protocol

from ._interp import WORKER_FILE, InterpreterAPI

__all__ = ["InterpWorker", "ProcessWorker", "SlotPool", "WorkerLost"]

_log = logging.getLogger("theus.pool")

_BOOT = (
    "import sys, os, json, importlib.util as u\n"
    "sys.path[:] = json.loads(os.environ.pop('THEUS_WORKER_SYS_PATH'))\n"
    "s = u.spec_from_file_location('_theus_pworker', sys.argv[1])\n"
    "m = u.module_from_spec(s); sys.modules['_theus_pworker'] = m; s.loader.exec_module(m)\n"
    "m.process_main(int(sys.argv[2]), int(sys.argv[3]))\n"
)
START_TIMEOUT = 120.0


class WorkerLost(Exception):
    """The worker running a task crashed or timed out (``.reason``)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Worker(Protocol):
    def run(self, data: bytes) -> bytes: ...
    def expire(self) -> bool: ...
    def close(self) -> None: ...


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "worker process died"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker process was killed by {name}"
    return f"worker process exited with code {code}"


class ProcessWorker:
    """One spawned worker process (see the module rules)."""

    def __init__(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        env["THEUS_WORKER_SYS_PATH"] = json.dumps(sys.path)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, WORKER_FILE, str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                env=env,
                close_fds=True,
            )
        except BaseException:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise
        os.close(to_child_r)
        os.close(from_child_w)
        self._tx = Connection(to_child_w, readable=False)
        self._rx = Connection(from_child_r, writable=False)
        self.expired = False
        self._timeout_text = ""
        if not self._rx.poll(START_TIMEOUT):
            self.close()
            raise WorkerLost(f"worker process did not start within {START_TIMEOUT:g}s")
        try:
            hello = self._rx.recv_bytes()
        except (EOFError, OSError):
            code = self.proc.wait()
            self.close()
            raise WorkerLost(f"{_describe_exit(code)} while starting") from None
        if hello != b"ready":
            self.close()
            raise WorkerLost(f"unexpected worker greeting {hello[:40]!r}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def run(self, data: bytes) -> bytes:
        try:
            self._tx.send_bytes(data)
            return self._rx.recv_bytes()
        except (EOFError, OSError):
            code = self.proc.wait()
            if self.expired:
                raise WorkerLost(self._timeout_text) from None
            raise WorkerLost(_describe_exit(code)) from None

    def expire(self, reason: str = "timed out") -> bool:
        """Kill the worker; the blocked ``run`` reports ``reason``. Returns False: the
        slot itself reports the failure."""
        self.expired = True
        self._timeout_text = reason
        try:
            self.proc.kill()
        except OSError:
            pass
        return False

    def close(self, grace: float = 2.0) -> None:
        for conn in (self._tx, self._rx):
            try:
                conn.close()
            except OSError:
                pass
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class InterpWorker:
    """One sub-interpreter (see :mod:`theus._interp`)."""

    def __init__(self, backend: InterpreterAPI) -> None:
        try:
            self._interp = backend.create()
        except Exception as exc:
            raise WorkerLost(f"cannot start a sub-interpreter: {exc}") from exc

    def run(self, data: bytes) -> bytes:
        try:
            return self._interp.run(data)
        except Exception as exc:
            raise WorkerLost(f"sub-interpreter failed: {exc}") from exc

    def expire(self, reason: str = "timed out") -> bool:
        return True  # cannot interrupt: the pool abandons the slot

    def close(self) -> None:
        self._interp.close()


_SHUTDOWN = None


class _Slot:
    __slots__ = ("abandoned", "deadline", "future", "limit", "pool", "ready", "thread", "worker")

    def __init__(self, pool: SlotPool) -> None:
        self.pool = pool
        self.worker: Any = None
        self.future: Future[bytes] | None = None
        self.deadline: float | None = None
        self.limit = 0.0
        self.abandoned = False
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"theus-{pool.kind}", daemon=True)

    def _start_worker(self) -> None:
        try:
            self.worker = self.pool._make_worker()
        except WorkerLost as exc:
            _log.warning("theus %s pool: %s", self.pool.kind, exc.reason)
            self.worker = None
        except Exception as exc:  # noqa: BLE001 - a worker that cannot start is logged; tasks fail
            _log.warning("theus %s pool: cannot start a worker: %s", self.pool.kind, exc)
            self.worker = None
        finally:
            self.ready.set()

    def _loop(self) -> None:
        pool = self.pool
        self._start_worker()
        tasks = pool._tasks
        while True:
            item = tasks.get()
            if item is _SHUTDOWN:
                break
            future, data, timeout = item
            if not future.set_running_or_notify_cancel():
                continue
            if self.worker is None:
                self._start_worker()
                if self.worker is None:
                    future.set_exception(WorkerLost("no worker could be started"))
                    continue
            self.future = future
            if timeout is not None:
                self.limit = timeout
                self.deadline = time.monotonic() + timeout
                pool._watch(self)
            try:
                out = self.worker.run(data)
            except WorkerLost as exc:
                self._finish()
                if self.abandoned:
                    break
                if not future.done():
                    future.set_exception(exc)
                self._replace_worker()
                continue
            self._finish()
            if self.abandoned:
                break
            if getattr(self.worker, "expired", False):  # killed just after answering
                self._replace_worker()
            future.set_result(out)
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def _finish(self) -> None:
        with self.pool._lock:
            self.future = None
            self.deadline = None

    def _replace_worker(self) -> None:
        old, self.worker = self.worker, None
        if old is not None:
            old.close()
        self._start_worker()

    def expire(self, reason: str) -> None:
        """Called by the watchdog (pool lock held) when the task is overdue."""
        future, self.deadline = self.future, None
        if self.worker is None or future is None:
            return
        if self.worker.expire(reason):  # cannot interrupt: fail now, replace the slot
            self.abandoned = True
            self.future = None
            if not future.done():
                future.set_exception(WorkerLost(reason))
            self.pool._replace_slot(self)


class SlotPool:
    """A fixed number of slots fed from one queue (subclasses say what a worker is)."""

    kind = "slots"

    def __init__(self, size: int, timeout: float | None) -> None:
        self.size = size
        self.timeout = timeout
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._watchdog: threading.Thread | None = None
        self._closed = False
        self._abandoned: list[_Slot] = []
        self._slots = [_Slot(self) for _ in range(size)]
        for slot in self._slots:
            slot.thread.start()

    def _make_worker(self) -> Worker:
        raise NotImplementedError

    def submit(self, data: bytes, timeout: float | None = None) -> Future[bytes]:
        future: Future[bytes] = Future()
        if self._closed:
            raise RuntimeError(f"the {self.kind} pool is shut down")
        self._tasks.put((future, data, timeout if timeout is not None else self.timeout))
        return future

    def warm(self, timeout: float | None = None) -> bool:
        """Wait until every slot has started its worker; True if all did in time."""
        end = None if timeout is None else time.monotonic() + timeout
        for slot in list(self._slots):
            left = None if end is None else max(0.0, end - time.monotonic())
            if not slot.ready.wait(left):
                return False
        return True

    def worker_pids(self) -> list[int]:
        return [s.worker.pid for s in self._slots if getattr(s.worker, "pid", None)]

    # -- timeouts ------------------------------------------------------------------------
    def _watch(self, slot: _Slot) -> None:
        with self._wake:
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch_loop, name=f"theus-{self.kind}-watchdog", daemon=True
                )
                self._watchdog.start()
            self._wake.notify()

    def _watch_loop(self) -> None:
        with self._wake:
            while not self._closed:
                now = time.monotonic()
                soonest: float | None = None
                for slot in list(self._slots):
                    deadline = slot.deadline
                    if deadline is None:
                        continue
                    if deadline <= now:
                        slot.expire(f"timed out (no result within {slot.limit:g}s)")
                    elif soonest is None or deadline < soonest:
                        soonest = deadline
                self._wake.wait(None if soonest is None else soonest - now)

    def _replace_slot(self, old: _Slot) -> None:
        """Lock held: start a fresh slot in place of an abandoned one."""
        if self._closed:
            return
        fresh = _Slot(self)
        self._slots = [fresh if s is old else s for s in self._slots]
        self._abandoned.append(old)
        fresh.thread.start()

    # -- shutdown --------------------------------------------------------------------------
    def shutdown(self, wait: bool = True) -> None:
        with self._wake:
            if self._closed:
                return
            self._closed = True
            slots = list(self._slots)
            self._wake.notify_all()
        for _ in slots:
            self._tasks.put(_SHUTDOWN)
        if wait:
            for slot in slots + self._abandoned:  # abandoned: a timed-out body still running
                slot.thread.join(30.0)
        while True:
            try:
                item = self._tasks.get_nowait()
            except queue.Empty:
                break
            if item is not _SHUTDOWN:
                item[0].cancel()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} kind={self.kind} size={self.size}>"
