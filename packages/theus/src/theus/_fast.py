"""``strict_mode=False``: no guards, no transaction object, deferred writes.

Rules / theory of operation:
- A fast call reads the snapshot it started from plus its own pending writes and keeps
  its writes as ``path -> (parsed path, frozen value)`` entries (frozen at write, as
  ``tx.set`` does, so a later in-place mutation by the body never reaches the state;
  HEAVY writes go through at once, as in strict mode). When the body returns, the
  entries are applied in one blind, atomic store write (last writer wins: no conflict
  detection, no retry). An exception discards them, so even the fast mode never leaves
  half a call behind.
- ``ctx.domain`` / ``ctx.global_`` are :class:`FastView` objects over one layer. While
  nothing is pending, reading a field goes straight to the layer's persistent map;
  writing a scalar to a field of the layer records the entry without parsing the path
  again. Everything else (pending writes, nested paths, HEAVY, private names, mapping
  methods) takes the general :class:`View` path, so both give the same answers.
- Checks that need the state at commit time (a scalar written over a mapping that holds
  CONSTANT fields, a path below a scalar) run at commit: the store's simple path refuses
  such entries and the general ``apply`` re-validates them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, NoReturn

from theus_state import (
    DELETED,
    PathNotFound,
    State,
    Transaction,
    TransactionClosed,
    Zone,
)
from theus_state._frozen import EMPTY_NODE, Node, Opaque, out
from theus_state._paths import _CACHE, ParsedPath, parse_path
from theus_state._writes import FAST_TYPES, prepare_delete, prepare_set

from ._context import ProcessContext, _ctx_run, _Runtime
from ._view import View, _set_view, _view

if TYPE_CHECKING:
    from ._calls import ProcessCalls
    from ._context import _Scratch
    from ._contracts import ProcessSpec

__all__ = ["FastContext", "FastRun", "FastView"]

Entry = tuple[ParsedPath, Any]

_HEAVY = Zone.HEAVY
_SIGNAL = Zone.SIGNAL
_DATA = Zone.DATA
_MISSING = object()
_NOT_PLAIN = frozenset({Node, Opaque})
_new = object.__new__
_FIELDS_MAX = 100_000
_NOTHING: dict[str, Any] = {}  # never written to: the writes of a closed run
_view_getattr = View.__getattribute__
_view_setattr = View.__setattr__


class FastView(View):
    """``ctx.domain`` / ``ctx.global_`` of a fast call (always a whole layer)."""

    # _v = (run, layer name, the layer's map in the call's snapshot, the call's pending
    #       entries, the field cache of this layer)
    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name[0] != "_":
            v = _view(self)
            if not v[3]:
                # a field wins over a mapping method of the same name, as in View;
                # HEAVY fields are never in the map: they take the general path
                value = v[2].get(name, _MISSING)
                # (a nested mapping is a node and an Opaque value a private copy: both
                # leave through ``out`` on the general path)
                if value is not _MISSING and type(value) not in _NOT_PLAIN:
                    return value
        return _view_getattr(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if type(value) in FAST_TYPES:
            v = _view(self)
            p = v[4].get(name)
            if p is None:
                p = _learn(v[4], v[1], name)
            writes = v[3]
            # a DATA ``layer.field`` path, and the call is still open (once it is over,
            # the run holds another dict: the general path then refuses the write)
            if p and v[0].writes is writes:
                text = p[0]  # p.text
                if text in writes:  # re-inserted at the end: write order is kept
                    del writes[text]
                writes[text] = (p, value)
                return
        _view_setattr(self, name, value)


def _fast_view(run: FastRun, name: str) -> FastView:
    layer = run.state._root.get(name)
    view = _new(FastView)
    m = layer if type(layer) is Node else EMPTY_NODE
    # a view made after the call (a kept ctx) gets its own copy: never the run's dict
    writes = dict(run.committed) if run.closed else run.writes
    _set_view(view, (run, name, m, writes, _LAYER_FIELDS[name]))
    return view


class FastContext(ProcessContext):
    """``ctx`` of a fast call: the same API as :class:`ProcessContext`, with plain
    (C-level) attribute access -- ``ctx.domain`` is a slot filled when the call starts.
    Private names stay blocked: ``_run`` is shadowed below and any other ``_`` name is
    missing, so it reaches ``__getattr__``."""

    __slots__ = ("domain",)
    __getattribute__ = object.__getattribute__

    @property
    def _run(self) -> NoReturn:
        raise _ctx_run(self).deny("ctx._run", "private", "private names are blocked")

    def __getattr__(self, name: str) -> NoReturn:
        if name[:1] == "_":
            raise _ctx_run(self).deny(f"ctx.{name}", "private", "private names are blocked")
        raise AttributeError(f"ctx has no attribute {name!r}")


_fc_domain = FastContext.__dict__["domain"]
_fc_set_domain = _fc_domain.__set__
FastContext.domain_ctx = property(_fc_domain.__get__)  # type: ignore[assignment]


# layer -> {field name -> its ParsedPath, or False when it is not a plain DATA field}
_LAYER_FIELDS: defaultdict[str, dict[str, ParsedPath | bool]] = defaultdict(dict)


def _learn(fields: dict[str, ParsedPath | bool], layer: str, name: str) -> ParsedPath | bool:
    """Fill the field cache for ``name`` (bounded: cleared when it grows too large)."""
    p: ParsedPath | bool = False
    if name[:1] != "_":
        try:
            parsed = parse_path(f"{layer}.{name}")
        except ValueError:  # InvalidPath: the general path reports it
            return False
        if parsed.zone is _DATA and len(parsed.keys) == 2:
            p = parsed
    if len(fields) >= _FIELDS_MAX:
        fields.clear()
    fields[name] = p
    return p


class FastRun(_Runtime):
    """Per-call runtime of a fast call: the snapshot, the pending writes, helpers."""

    __slots__ = (
        "closed",
        "committed",
        "engine",
        "has_signals",
        "local",
        "outbox",
        "participants",
        "plain",
        "spec",
        "state",
        "writes",
    )
    strict = False

    # Made by the lane (``fast_lane``), which fills every slot itself: a call to
    # ``__init__`` would cost a frame on the hot path.
    engine: ProcessCalls
    spec: ProcessSpec
    state: State
    writes: dict[str, Entry]
    local: _Scratch | None
    outbox: Any
    participants: list[Any] | None
    has_signals: bool
    plain: bool  # every pending entry came from the FastView's scalar path
    closed: str  # "committed" / "rolled back" once the call is over
    committed: dict[str, Entry]  # the writes, once the call committed

    def _overlay(self) -> Transaction:
        """A throw-away transaction holding the pending writes (rare path: a read of a
        path related to, but not equal to, a pending write)."""
        tx = Transaction(self.engine._store, self.state)
        for text, (_p, value) in self._entries().items():
            if value is DELETED:
                tx.delete(text)
            else:  # a node as its FrozenMap: set again in O(1), not re-routed
                tx.set(text, out(value) if type(value) is Node else value)
        return tx

    def _entries(self) -> dict[str, Entry]:
        """The call's writes: pending, or committed once the call is over."""
        return self.committed if self.closed else self.writes

    def read(self, path: str) -> Any:
        writes = self._entries()
        if writes:
            text = (_CACHE.get(path) or parse_path(path)).text
            entry = writes.get(text)
            if entry is not None:
                value = entry[1]
                if value is DELETED:
                    raise PathNotFound(text)
                return out(value)
            dotted = text + "."
            if any(k.startswith(dotted) or text.startswith(k + ".") for k in writes):
                return self._overlay().get(text)
        return self.state.get(path)

    def write(self, path: str, value: Any) -> None:
        if self.closed:
            raise TransactionClosed(self.closed)
        p = _CACHE.get(path) or parse_path(path)
        if p.zone is _DATA and type(value) in FAST_TYPES:  # ``_pend``, inlined
            if len(p.keys) != 2:  # (a scalar on ``layer.field`` is vouched for)
                self.plain = False
            writes = self.writes
            text = p.text
            if text in writes:  # re-inserted at the end: write order is kept
                del writes[text]
            writes[text] = (p, value)
            return
        entries, heavy = prepare_set(p, value, self.state._root)  # as ``tx.set`` does
        store = self.engine._store
        for hp, hv in heavy:
            store._put_heavy(hp, hv)
        for ep, ev in entries:
            self._pend(ep, ev)

    def _pend(self, p: ParsedPath, value: Any) -> None:
        self.plain = False
        if p.zone is _SIGNAL:
            self.has_signals = True
        writes = self.writes
        writes.pop(p.text, None)  # re-inserted: signals are published in write order
        writes[p.text] = (p, value)

    def delete(self, path: str) -> None:
        if self.closed:
            raise TransactionClosed(self.closed)
        p = _CACHE.get(path) or parse_path(path)
        if p.zone is _HEAVY:
            try:
                self.engine._store._heavy.remove(p)
            except (KeyError, TypeError):
                raise PathNotFound(p.text) from None
            return
        self.read(p.text)  # PathNotFound if absent
        self._pend(*prepare_delete(p, self.state._root))

    def layer(self, name: str) -> View:
        """A new view of layer ``name`` (the ``ctx`` keeps it)."""
        return _fast_view(self, name)

    def whole(self, path: str) -> Any:
        return self._overlay().get(path, {}) if self._entries() else self.state.get(path, {})

    def recent_signals(self) -> Any:
        return self.state.signals

    def attach(self, participant: Any) -> None:
        if self.participants is None:
            self.participants = []
        self.participants.append(participant)

    def collector(self) -> Any:
        if self.outbox is None:
            self.outbox = self.engine._collector_for(self)
        return self.outbox

    @property
    def version(self) -> int:
        return self.state.version

    def pending(self) -> dict[str, Any]:
        """The pending writes as ``path -> frozen value``, in write order."""
        return {text: out(value) for text, (_p, value) in self.writes.items()}

    def _apply(self) -> int:
        """The general path: ``store.apply`` validates every entry against the current
        state and runs the participants in the same commit."""
        return self.engine._store.apply(
            self.pending(), requester=self.spec.name, participants=self.participants or ()
        )

    def signal_writes(self) -> dict[str, Any]:
        """Pending SIGNAL writes ``path -> frozen value``, in write order."""
        return {
            text: out(value)
            for text, (p, value) in self._entries().items()
            if p.zone is _SIGNAL and value is not DELETED
        }

    def abort(self) -> None:
        self.closed = "rolled back"
        self.committed = self.writes = _NOTHING
        if self.participants is not None:
            for participant in self.participants:
                participant.on_rollback()
