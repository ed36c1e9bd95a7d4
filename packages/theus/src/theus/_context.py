"""The ``ctx`` a process receives: guarded, transactional views of the context.

Rules / theory of operation:
- One :class:`_Run` per process call holds the transaction, the contract and lazily
  created helpers (outbox collector, scratch). ``ctx`` keeps its layer views; ``ctx`` and
  every view keep only a reference to the run, in a private slot (the run refers to
  neither: a call leaves no reference cycle).
- Every attribute or item access on ``ctx.domain`` / ``ctx.global_`` turns into a dotted
  path. In strict mode the path is checked against the contract (cached decision):
  allowed → the value from the transaction (immutable: FrozenMap/FrozenList/scalars;
  HEAVY numpy arrays come back as zero-copy read-only views unless the path is an
  output); a prefix of a declared path → a further view; anything else →
  :class:`ContractViolation`. Writes and deletes go through the same check against the
  outputs and land in the transaction. Names starting with ``_`` are refused everywhere.
- Non-strict mode skips the checks (same views, same transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from theus_state import Transaction, Zone, parse_path

from ._contracts import ALLOW, NAV, ProcessSpec, SemanticType
from ._view import View, _new_view
from .exceptions import ContractViolation

if TYPE_CHECKING:
    from ._calls import ProcessCalls

__all__ = ["ProcessContext"]


class _Runtime:
    """What every per-call runtime (strict :class:`_Run`, fast ``FastRun``) shares:
    views and ``ctx`` call ``read``/``write``/``delete``/``whole``/``layer`` on it."""

    __slots__ = ()
    spec: ProcessSpec

    def read(self, path: str) -> Any:  # pragma: no cover - every runtime defines it
        raise NotImplementedError

    def deny(self, path: str, access: str, reason: str) -> ContractViolation:
        return ContractViolation(self.spec.name, path, access, reason)

    def has(self, path: str) -> bool:
        try:
            self.read(path)
        except KeyError:
            return False
        return True


class _Run(_Runtime):
    """Per-call runtime behind ``ctx`` in strict mode (not part of the public API)."""

    __slots__ = ("engine", "local", "outbox", "spec", "strict", "tx")

    def __init__(
        self, engine: ProcessCalls, spec: ProcessSpec, tx: Transaction, strict: bool
    ) -> None:
        self.engine = engine
        self.spec = spec
        self.tx = tx
        self.strict = strict
        self.local: _Scratch | None = None
        self.outbox: Any = None

    def read(self, path: str) -> Any:
        if self.strict:
            spec = self.spec
            decision = spec._read.get(path) or spec.read_access(path)
            if decision[0] != ALLOW:
                if decision[0] == NAV:
                    return _new_view(self, path)
                raise self.deny(path, "read", decision[1])
            value = self.tx.get(path)
            if decision[2] and hasattr(value, "setflags"):  # HEAVY input, not an output
                value = value.view()
                value.setflags(write=False)
            return value
        return self.tx.get(path)

    def write(self, path: str, value: Any) -> None:
        if self.strict:
            spec = self.spec
            decision = spec._write.get(path) or spec.write_access(path)
            if decision[0] != ALLOW:
                raise self.deny(path, "write", decision[1])
        self.tx.set(path, value)

    def delete(self, path: str) -> None:
        if self.strict:
            spec = self.spec
            decision = spec._write.get(path) or spec.write_access(path)
            if decision[0] != ALLOW:
                raise self.deny(path, "delete", decision[1])
        self.tx.delete(path)

    def layer(self, name: str) -> View:
        """A new view of layer ``name`` (the ``ctx`` keeps it: see ``_ctx_layer``)."""
        return _new_view(self, name)

    def whole(self, path: str) -> Any:
        """The full value at ``path`` (for iteration), contract-checked."""
        if self.strict:
            decision = self.spec._read.get(path) or self.spec.read_access(path)
            if decision[0] != ALLOW:
                raise self.deny(path, "read", "iterating needs the whole path declared")
        return self.tx.get(path, {})

    def recent_signals(self) -> Any:
        return self.tx.snapshot.signals

    def collector(self) -> Any:
        if self.outbox is None:
            self.outbox = self.engine._collector_for(self.tx)
        return self.outbox

    @property
    def version(self) -> int:
        return self.tx.version


class _Scratch(dict[str, Any]):
    """``ctx.local``: per-call scratch space, dropped after the process."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class _PathMapping:
    """Base of ``ctx.signal`` / ``ctx.heavy`` / ``ctx.meta``: guarded access by path."""

    __slots__ = ("_run",)
    _run: _Run
    zone: Zone = Zone.DATA

    def __init__(self, run: _Run) -> None:
        object.__setattr__(self, "_run", run)

    def _resolve(self, key: str) -> str:
        if "." in key:
            return key
        spec = self._run.spec
        for pat in spec.input_patterns + spec.output_patterns:
            if pat.zone is self.zone and pat.text.rsplit(".", 1)[-1] == key:
                return pat.text
        return key

    def __getitem__(self, key: str) -> Any:
        return self._run.read(self._resolve(key))

    def __setitem__(self, key: str, value: Any) -> None:
        self._run.write(self._resolve(key), value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise self._run.deny(name, "private", "private names are blocked")
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

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


class _Signals(_PathMapping):
    """``ctx.signal``: SIGNAL values of the most recent commit, by path."""

    zone = Zone.SIGNAL

    def __getitem__(self, key: str) -> Any:
        path = self._resolve(key)
        run = self._run
        if run.strict:
            if run.spec.semantic is SemanticType.PURE:
                raise run.deny(path, "read", "a PURE process cannot read signals")
            decision = run.spec._read.get(path) or run.spec.read_access(path)
            if decision[0] != ALLOW:
                raise run.deny(path, "read", decision[1])
        return run.recent_signals()[parse_path(path).text]

    def __iter__(self) -> Iterator[str]:
        run = self._run
        for path in run.recent_signals():
            if not run.strict or run.spec.read_access(path)[0] == ALLOW:
                yield path


class _Heavy(_PathMapping):
    """``ctx.heavy``: HEAVY fields by path or last segment (zero-copy)."""

    zone = Zone.HEAVY


class _Meta(_PathMapping):
    """``ctx.meta``: META fields by path (GUIDE processes only)."""

    zone = Zone.META


class _Outbox:
    """``ctx.outbox``: messages that leave only if this process commits."""

    __slots__ = ("_collector",)

    def __init__(self, collector: Any) -> None:
        self._collector = collector

    def add(self, message: Any) -> None:
        self._collector.add(message)

    def __len__(self) -> int:
        return len(self._collector)


class ProcessContext:
    """What a process receives as ``ctx``.

    The ctx keeps its layer views (``_views``); the run behind it keeps no reference to
    the ctx or its views, so a call leaves no reference cycle behind (its objects are
    freed at once, not by the cyclic garbage collector)."""

    __slots__ = ("_run", "_views")

    def __getattribute__(self, name: str) -> Any:
        if name == "domain":
            view = _ctx_views(self).get("domain")
            return _ctx_layer(self, "domain") if view is None else view
        if name[0] == "_" and not (name[:2] == "__" and name[-2:] == "__"):
            raise _ctx_run(self).deny(f"ctx.{name}", "private", "private names are blocked")
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise _ctx_run(self).deny(f"ctx.{name}", "write", "write through ctx.domain / ctx.global_")

    @property
    def domain(self) -> View:
        return _ctx_layer(self, "domain")

    @property
    def global_(self) -> View:
        return _ctx_layer(self, "global")

    global_ctx = global_
    domain_ctx = domain  # upstream Theus name

    @property
    def local(self) -> _Scratch:
        run = _ctx_run(self)
        if run.local is None:
            run.local = _Scratch()
        return run.local

    @property
    def signal(self) -> _Signals:
        return _Signals(_ctx_run(self))

    @property
    def heavy(self) -> _Heavy:
        return _Heavy(_ctx_run(self))

    @property
    def meta(self) -> _Meta:
        run = _ctx_run(self)
        if run.strict and run.spec.semantic is not SemanticType.GUIDE:
            raise run.deny("ctx.meta", "read", "META is reserved to GUIDE processes")
        return _Meta(run)

    @property
    def outbox(self) -> _Outbox:
        run = _ctx_run(self)
        if run.strict and run.spec.semantic is SemanticType.PURE:
            raise run.deny("ctx.outbox", "outbox", "a PURE process cannot use the outbox")
        return _Outbox(run.collector())

    @property
    def process_name(self) -> str:
        return _ctx_run(self).spec.name

    @property
    def version(self) -> int:
        """The state version this call started from."""
        return _ctx_run(self).version

    def log(self, message: str, *args: Any, level: int = logging.INFO) -> None:
        """Log through the ``theus.process.<name>`` logger."""
        logging.getLogger(f"theus.process.{_ctx_run(self).spec.name}").log(level, message, *args)

    def __repr__(self) -> str:
        return f"<ProcessContext {_ctx_run(self).spec.name}>"


_ctx_run: Callable[[ProcessContext], _Run] = ProcessContext._run.__get__  # type: ignore[attr-defined]
_ctx_set_run = ProcessContext._run.__set__  # type: ignore[attr-defined]
_ctx_views: Callable[[ProcessContext], dict[str, View]] = ProcessContext._views.__get__  # type: ignore[attr-defined]
_ctx_set_views = ProcessContext._views.__set__  # type: ignore[attr-defined]


def _ctx_layer(ctx: ProcessContext, name: str) -> View:
    """The view of layer ``name`` kept by ``ctx`` (made on first use)."""
    try:
        views = _ctx_views(ctx)
    except AttributeError:  # a context made without its dict (the fast path's)
        views = {}
        _ctx_set_views(ctx, views)
    view = views.get(name)
    if view is None:
        view = views[name] = _ctx_run(ctx).layer(name)
    return view


def make_context(run: Any) -> ProcessContext:
    ctx = object.__new__(ProcessContext)
    _ctx_set_run(ctx, run)
    _ctx_set_views(ctx, {})
    return ctx
