"""Worker side of parallel processes: runs one pickled task and pickles its outcome.

Rules / theory of operation:
- This module imports the standard library only and no other theus module, because it
  is also loaded *by file path* (as ``_theus_pworker``) in sub-interpreters, where
  ``import theus`` may be impossible, and in freshly started worker processes.
- A task is ``pickle((1, module, qualname, name, layers, heavy, kwargs, sys_path, id))``:
  the process function travels by reference (module + qualified name), never by value;
  ``layers`` holds the declared inputs as plain nested data, ``heavy`` the HEAVY inputs
  (shared-memory arrays pickle as their segment name only), ``kwargs`` the call arguments.
- The outcome is ``("ok", value, writes, logs)`` or
  ``("err", pickled_exception | None, type_name, message, traceback_text, logs)``; the
  exception is pickled separately so an unpicklable one still reports its type and text.
- Only built-in exception types are raised from here, so an outcome never needs this
  module to be unpickled in the parent.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import pickle
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["ParallelContext", "process_main", "run_payload"]

PROTOCOL = 5
_functions: dict[tuple[str, str], Callable[..., Any]] = {}


def _resolve(module: str, qualname: str, paths: list[str] | None) -> Callable[..., Any]:
    key = (module, qualname)
    fn = _functions.get(key)
    if fn is None:
        if paths:
            sys.path[:0] = [p for p in paths if p not in sys.path]
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        fn = _functions[key] = obj
    return fn


class _Node:
    """Attribute and item access over one mapping of the worker's data (``ctx.domain``)."""

    __slots__ = ("_ctx", "_data", "_prefix")
    _ctx: ParallelContext
    _data: dict[str, Any]
    _prefix: str

    def __init__(self, ctx: ParallelContext, prefix: str, data: dict[str, Any]) -> None:
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_data", data)

    def _wrap(self, key: str, value: Any) -> Any:
        if type(value) is dict:
            return _Node(self._ctx, f"{self._prefix}.{key}", value)
        return value

    def __getitem__(self, key: str) -> Any:
        try:
            return self._wrap(key, self._data[key])
        except KeyError:
            raise KeyError(self._ctx._missing(f"{self._prefix}.{key}")) from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise PermissionError(f"private name {self._prefix}.{name} is blocked")
        try:
            return self._wrap(name, self._data[name])
        except KeyError:
            raise AttributeError(self._ctx._missing(f"{self._prefix}.{name}")) from None

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str) or key.startswith("_"):
            raise PermissionError(f"bad key {key!r} under {self._prefix}")
        self._data[key] = value
        self._ctx._writes[f"{self._prefix}.{key}"] = value

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._wrap(key, self._data[key]) if key in self._data else default

    def keys(self) -> Any:
        return self._data.keys()

    def values(self) -> Any:
        return [self._wrap(k, v) for k, v in self._data.items()]

    def items(self) -> Any:
        return [(k, self._wrap(k, v)) for k, v in self._data.items()]

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (self._data,))  # returned from a body: travels as a plain dict

    @property
    def path(self) -> str:
        return self._prefix

    def __repr__(self) -> str:
        return f"<ParallelView {self._prefix}>"


class _Heavy:
    """``ctx.heavy``: HEAVY inputs and shared-memory arguments, by path or last segment."""

    __slots__ = ("_ctx", "_items")

    def __init__(self, ctx: ParallelContext, items: dict[str, Any]) -> None:
        self._ctx = ctx
        self._items = items

    def __getitem__(self, key: str) -> Any:
        items = self._items
        if key in items:
            return items[key]
        for path, value in items.items():
            if path.rsplit(".", 1)[-1] == key:
                return value
        raise KeyError(self._ctx._missing(key))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(exc.args[0]) from None

    def __contains__(self, key: str) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> Any:
        return self._items.keys()


class ParallelContext:
    """The ``ctx`` of a process running on a parallel worker.

    ``ctx.domain`` / ``ctx.global_``: declared (non-glob) inputs as read from the state
    at submit time, plus the call arguments under their names (an input of the same
    name wins). Assignments are collected and committed by the parent through the
    process's contract. ``ctx.heavy``: zero-copy, read-only shared-memory views.
    ``ctx.local``: scratch. ``ctx.log(msg, *args)``: logged by the parent under
    ``theus.process.<name>``. Signals, META and the outbox are not available here.
    """

    __slots__ = ("_heavy", "_layers", "_local", "_logs", "_name", "_writes")

    def __init__(
        self,
        name: str,
        layers: dict[str, dict[str, Any]],
        heavy: dict[str, Any],
        kwargs: dict[str, Any],
        logs: list[tuple[int, str]],
    ) -> None:
        self._name = name
        self._layers = layers
        self._writes: dict[str, Any] = {}
        self._logs = logs
        self._local: dict[str, Any] | None = None
        domain = layers.setdefault("domain", {})
        for key, value in kwargs.items():
            domain.setdefault(key, value)
        items = dict(heavy)
        for value in items.values():
            if hasattr(value, "setflags") and getattr(value, "shm_name", None) is None:
                value.setflags(write=False)  # a private copy, read-only like a shm view
        for key, value in kwargs.items():
            if getattr(value, "shm_name", None) is not None:
                items.setdefault(key, value)
        self._heavy = _Heavy(self, items)

    def _missing(self, path: str) -> str:
        return (
            f"{path!r} is not available to parallel process {self._name!r}: a worker "
            "receives its declared non-glob inputs and its call arguments only"
        )

    @property
    def domain(self) -> _Node:
        return _Node(self, "domain", self._layers.setdefault("domain", {}))

    @property
    def global_(self) -> _Node:
        return _Node(self, "global", self._layers.setdefault("global", {}))

    global_ctx = global_
    domain_ctx = domain

    @property
    def heavy(self) -> _Heavy:
        return self._heavy

    @property
    def local(self) -> dict[str, Any]:
        if self._local is None:
            self._local = {}
        return self._local

    @property
    def process_name(self) -> str:
        return self._name

    def _unavailable(self, what: str) -> PermissionError:
        return PermissionError(f"{what} is not available to parallel process {self._name!r}")

    @property
    def signal(self) -> Any:
        raise self._unavailable("ctx.signal")

    @property
    def meta(self) -> Any:
        raise self._unavailable("ctx.meta")

    @property
    def outbox(self) -> Any:
        raise self._unavailable("ctx.outbox (return a StateUpdate or run the process sequentially)")

    def log(self, message: str, *args: Any, level: int = logging.INFO) -> None:
        """Record a log line; the parent emits it under ``theus.process.<name>``."""
        self._logs.append((level, message % args if args else str(message)))

    def __repr__(self) -> str:
        return f"<ParallelContext {self._name}>"


def _error(exc: BaseException, logs: list[tuple[int, str]]) -> bytes:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        blob: bytes | None = pickle.dumps(exc, PROTOCOL)
    except Exception:  # noqa: BLE001 - everything is reported to the parent
        blob = None
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return pickle.dumps(("err", blob, name, str(exc), text, logs), PROTOCOL)


def run_payload(data: bytes) -> bytes:
    """Run one task (see the module rules); never raises."""
    logs: list[tuple[int, str]] = []
    try:
        _, module, qualname, name, layers, heavy, kwargs, paths, _id = pickle.loads(data)
        fn = _resolve(module, qualname, paths)
        ctx = ParallelContext(name, layers, heavy, kwargs, logs)
        value = fn(ctx, **kwargs)
        if inspect.isawaitable(value):
            value = asyncio.run(_await(value))
        out = pickle.dumps(("ok", value, ctx._writes, logs), PROTOCOL)
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the parent
        return _error(exc, logs)
    return out


async def _await(value: Any) -> Any:
    return await value


def process_main(rfd: int, wfd: int) -> None:
    """Main loop of a worker process: one task in, one outcome out, until EOF."""
    import signal
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    rx = Connection(rfd, writable=False)
    tx = Connection(wfd, readable=False)
    tx.send_bytes(b"ready")
    while True:
        try:
            data = rx.recv_bytes()
        except (EOFError, OSError):
            return
        if not data:
            return
        tx.send_bytes(run_payload(data))
