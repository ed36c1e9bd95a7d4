"""Sub-interpreters for the InterpreterPool: one small adapter per available API.

Rules / theory of operation:
- :func:`api` returns the first usable backend, or None: the stdlib
  ``concurrent.interpreters`` (3.14+), the CPython 3.13 low-level ``_interpreters`` +
  ``_interpqueues`` modules, or a PEP 734 backport exposing the 3.14 API
  (``interpreters_backport``). Python 3.11/3.12 without a backport have none.
- Every interpreter is created *isolated* (own GIL: true parallelism), with the parent's
  ``sys.path``, and loads ``_pworker.py`` by file path (``import theus`` may fail there).
- A task is one ``exec`` of ``_theus_run()`` with the pickled task shared into the
  interpreter's ``__main__``; the outcome comes back through a cross-interpreter queue
  right after ``exec`` returns (no polling). ``run`` is called from one thread at a time.
- :func:`probe_module` tells whether a module imports in a sub-interpreter (extension
  modules without multi-phase init, e.g. numpy or orjson, cannot load there). Answers are
  cached per module name for the life of the process.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from pathlib import Path
from typing import Any, Protocol

__all__ = ["InterpreterAPI", "Interpreter", "api", "probe_module"]

_log = logging.getLogger("theus.pool")
WORKER_FILE = str(Path(__file__).with_name("_pworker.py"))

_BOOT = """\
import sys as _sys, importlib.util as _ilu
_sys.path[:] = {paths!r}
_spec = _ilu.spec_from_file_location("_theus_pworker", {file!r})
_theus_pworker = _ilu.module_from_spec(_spec)
_sys.modules["_theus_pworker"] = _theus_pworker
_spec.loader.exec_module(_theus_pworker)
"""


class Interpreter(Protocol):
    def run(self, data: bytes) -> bytes: ...
    def exec(self, code: str) -> str | None: ...
    def close(self) -> None: ...


class InterpreterAPI(Protocol):
    name: str

    def create(self) -> Interpreter: ...


def _boot_code() -> str:
    return _BOOT.format(paths=list(sys.path), file=WORKER_FILE)


# -- CPython 3.13: _interpreters + _interpqueues ---------------------------------------------
class _LowLevelInterpreter:
    def __init__(self, mod: Any, queues: Any) -> None:
        self._mod = mod
        self._queues = queues
        self._qid = queues.create(0, 0, 1)  # maxsize unbounded, shareable objects, unbound: remove
        self._id = mod.create()
        err = self.exec(
            _boot_code() + f"import _interpqueues as _q\ndef _theus_run():\n"
            f"    _q.put({self._qid}, _theus_pworker.run_payload(payload), 0, 1)\n"
        )
        if err is not None:
            self.close()
            raise RuntimeError(f"sub-interpreter bootstrap failed: {err}")

    def exec(self, code: str) -> str | None:
        failure = self._mod.exec(self._id, code)
        return None if failure is None else str(getattr(failure, "formatted", failure))

    def run(self, data: bytes) -> bytes:
        failure = self._mod.exec(self._id, "_theus_run()", shared={"payload": data})
        if failure is not None:
            raise RuntimeError(str(getattr(failure, "formatted", failure)))
        out = self._queues.get(self._qid)
        return out[0] if isinstance(out, tuple) else out  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            self._mod.destroy(self._id)
        except Exception as exc:  # noqa: BLE001 - a failed teardown or probe is reported, never raised
            _log.debug("destroying sub-interpreter %s: %s", self._id, exc)
        try:
            self._queues.destroy(self._qid)
        except Exception as exc:  # noqa: BLE001 - a failed teardown or probe is reported, never raised
            _log.debug("destroying queue %s: %s", self._qid, exc)


class _LowLevelAPI:
    name = "_interpreters"

    def __init__(self) -> None:
        self._mod = importlib.import_module("_interpreters")
        self._queues = importlib.import_module("_interpqueues")

    def create(self) -> Interpreter:
        return _LowLevelInterpreter(self._mod, self._queues)


# -- PEP 734 (3.14 concurrent.interpreters, or a backport with the same API) ------------------
class _StdlibInterpreter:
    def __init__(self, mod: Any) -> None:
        self._interp = mod.create()
        self._queue = mod.create_queue()
        self._interp.prepare_main(_theus_queue=self._queue)
        err = self.exec(
            _boot_code() + "def _theus_run():\n"
            "    _theus_queue.put(_theus_pworker.run_payload(payload))\n"
        )
        if err is not None:
            self.close()
            raise RuntimeError(f"sub-interpreter bootstrap failed: {err}")

    def exec(self, code: str) -> str | None:
        try:
            self._interp.exec(code)
        except Exception as exc:  # noqa: BLE001 - a failed teardown or probe is reported, never raised
            return str(exc)
        return None

    def run(self, data: bytes) -> bytes:
        self._interp.prepare_main(payload=data)
        self._interp.exec("_theus_run()")
        return self._queue.get()  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            self._interp.close()
        except Exception as exc:  # noqa: BLE001 - a failed teardown or probe is reported, never raised
            _log.debug("closing sub-interpreter: %s", exc)


class _StdlibAPI:
    def __init__(self, module: str) -> None:
        self.name = module
        self._mod = importlib.import_module(module)
        if not (hasattr(self._mod, "create") and hasattr(self._mod, "create_queue")):
            raise ImportError(f"{module} does not expose the PEP 734 API")

    def create(self) -> Interpreter:
        return _StdlibInterpreter(self._mod)


_api_lock = threading.Lock()
_api_cache: list[InterpreterAPI | None] = []


def _find_api() -> InterpreterAPI | None:
    candidates: list[tuple[str, Any]] = [("concurrent.interpreters", _StdlibAPI)]
    if sys.version_info >= (3, 13):
        candidates.append(("_interpreters", lambda _name: _LowLevelAPI()))
    candidates.append(("interpreters_backport.concurrent.interpreters", _StdlibAPI))
    candidates.append(("interpreters_backport", _StdlibAPI))
    for name, factory in candidates:
        try:
            found: InterpreterAPI = factory(name)
        except (ImportError, AttributeError):
            continue
        return found
    return None


def api() -> InterpreterAPI | None:
    """The sub-interpreter API of this Python, or None (cached)."""
    with _api_lock:
        if not _api_cache:
            _api_cache.append(_find_api())
        return _api_cache[0]


_probes: dict[str, tuple[bool, str]] = {}
_probe_lock = threading.Lock()


def probe_module(module: str) -> tuple[bool, str]:
    """``(True, "")`` if ``module`` imports in a fresh sub-interpreter, else
    ``(False, reason)``. One real import per module name per process (cached)."""
    with _probe_lock:
        cached = _probes.get(module)
        if cached is not None:
            return cached
        backend = api()
        if backend is None:
            answer = (False, "this Python has no sub-interpreter API")
        else:
            try:
                interp = backend.create()
            except Exception as exc:  # noqa: BLE001 - a failed teardown or probe is reported, never raised
                answer = (False, f"cannot start a sub-interpreter: {exc}")
            else:
                try:
                    err = interp.exec(f"import {module}")
                finally:
                    interp.close()
                if err is None:
                    answer = (True, "")
                else:
                    last = err.strip().splitlines()[-1] if err.strip() else err
                    answer = (False, last)
        _probes[module] = answer
        _log.debug("sub-interpreter probe of %s: %s", module, answer)
        return answer
