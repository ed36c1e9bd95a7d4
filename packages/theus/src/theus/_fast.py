"""``strict_mode=False``: no guards, deferred or shadowed writes, a blind commit.

Rules / theory of operation:
- A fast call reads the snapshot it started from plus its own writes. While every write
  is *plain* -- a scalar on a DATA ``layer.field`` -- the writes are kept as entries
  ``path -> (parsed path, value)`` in a dict (two plain entries are never related: a
  read of an entry's path returns it, a read of a related path replays them in a
  throw-away transaction). The first write that is not plain (a mapping, a sequence, a
  nested path, a delete, a SIGNAL or HEAVY path) makes the call's *shadow transaction*:
  the plain entries are set in it, and from then on every read and write goes through
  it, so the call sees exactly what a strict call sees (values frozen when written,
  writes below a rewritten path dropped, the SIGNAL fields of a written mapping routed,
  a created mapping kept). HEAVY writes go through at once, as in strict mode.
- When the body returns, the writes are applied in one blind, atomic store write (last
  writer wins: no conflict detection, no retry): the plain entries through the store's
  simple path (or ``store.apply``, which validates them against the current state), the
  shadow transaction's write log replayed on the current state. An exception discards
  them, so even the fast mode never leaves half a call behind.
- ``ctx.domain`` / ``ctx.global_`` are :class:`FastView` objects over one layer. While
  nothing is pending, reading a field goes straight to the layer's persistent map;
  writing a scalar to a field of the layer records the plain entry without parsing the
  path again. Everything else (pending writes, nested paths, HEAVY, private names,
  mapping methods) takes the general :class:`View` path, so both give the same answers.
- Checks that need the state (a scalar written over a mapping that holds CONSTANT
  fields, a path below a scalar) run when a plain entry reaches the state (at commit, or
  when the shadow transaction is made); every other write is checked when it is made.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, NoReturn

from theus_state import (
    State,
    Transaction,
    TransactionClosed,
    Zone,
)
from theus_state._frozen import EMPTY_NODE, Node, Opaque, out
from theus_state._paths import _CACHE, ParsedPath, parse_path
from theus_state._writes import FAST_TYPES

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
# never written to: ``run.writes`` once the call has a shadow transaction
_MARK = ""  # (no path has an empty text)
_MARK_ENTRY: Any = (None, None)
_SHADOWED: dict[str, Any] = {_MARK: _MARK_ENTRY}
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
    # a view made after the call (a kept ctx), or once the call has a shadow
    # transaction, gets its own dict: never ``run.writes`` (so it writes through ``run``)
    writes = dict(run.committed) if run.closed else run.writes
    if writes is _SHADOWED:
        writes = dict(_SHADOWED)
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
        "tx",
        "writes",
    )
    strict = False

    # Made by the lane (``fast_lane``), which fills every slot itself: a call to
    # ``__init__`` would cost a frame on the hot path.
    engine: ProcessCalls
    spec: ProcessSpec
    state: State
    writes: dict[str, Entry]  # the plain entries (``_SHADOWED`` once ``tx`` exists)
    tx: Transaction | None  # the shadow transaction, once a write was not plain
    local: _Scratch | None
    outbox: Any
    participants: list[Any] | None
    has_signals: bool
    plain: bool  # no shadow transaction: every entry is a scalar on a DATA field
    closed: str  # "committed" / "rolled back" once the call is over
    committed: dict[str, Entry]  # the plain entries, once the call committed

    def _shadow(self) -> Transaction:
        """The call's shadow transaction, made at the first write that is not plain: the
        plain entries so far are set in it (validated now), and from then on every read
        and write of the call goes through it, so the call sees exactly what a strict
        call would (writes below a rewritten path dropped, created mappings kept, SIGNAL
        fields of a written mapping routed)."""
        tx = self.tx
        if tx is None:
            tx = Transaction(self.engine._store, self.state, self.spec.name)
            writes = self.writes
            for text, (_p, value) in writes.items():
                tx.set(text, value)
            self.tx = tx
            self.plain = False
            self.has_signals = True  # (``signal_writes`` tells which, if any)
            # the views still holding ``writes`` see an entry (so they take the general
            # path to read) and another dict in ``run.writes`` (so they do to write)
            writes[_MARK] = _MARK_ENTRY
            self.writes = _SHADOWED
        return tx

    def _overlay(self) -> Transaction:
        """A throw-away transaction holding the plain entries (rare path: a read of a
        path related to, but not equal to, a plain entry)."""
        tx = Transaction(self.engine._store, self.state)
        for text, (_p, value) in self._entries().items():
            tx.set(text, value)
        return tx

    def _entries(self) -> dict[str, Entry]:
        """The call's plain entries: pending, or committed once the call is over."""
        return self.committed if self.closed else self.writes

    def read(self, path: str) -> Any:
        tx = self.tx
        if tx is not None:
            return tx.get(path)
        writes = self._entries()
        if writes:
            text = (_CACHE.get(path) or parse_path(path)).text
            entry = writes.get(text)
            if entry is not None:  # plain entries are never related to one another
                return out(entry[1])
            dotted = text + "."
            if any(k.startswith(dotted) or text.startswith(k + ".") for k in writes):
                return self._overlay().get(text)
        return self.state.get(path)

    def write(self, path: str, value: Any) -> None:
        if self.closed:
            raise TransactionClosed(self.closed)
        tx = self.tx
        if tx is None:
            p = _CACHE.get(path) or parse_path(path)
            if p.zone is _DATA and type(value) in FAST_TYPES and len(p.keys) == 2:
                # a plain entry: a scalar on a DATA ``layer.field``
                writes = self.writes
                text = p.text
                if text in writes:  # re-inserted at the end: write order is kept
                    del writes[text]
                writes[text] = (p, value)
                return
            tx = self._shadow()
        tx.set(path, value)

    def delete(self, path: str) -> None:
        if self.closed:
            raise TransactionClosed(self.closed)
        self._shadow().delete(path)

    def layer(self, name: str) -> View:
        """A new view of layer ``name`` (the ``ctx`` keeps it)."""
        return _fast_view(self, name)

    def whole(self, path: str) -> Any:
        tx = self.tx
        if tx is not None:
            return tx.get(path, {})
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
        tx = self.tx
        if tx is not None:
            return tx.writes
        return {text: out(value) for text, (_p, value) in self.writes.items()}

    def _apply(self) -> int:
        """The general commit: the shadow transaction's writes replayed blind on the
        current state (last writer wins), or ``store.apply`` of the plain entries (which
        validates them against the current state); the participants in the same commit."""
        store = self.engine._store
        participants = tuple(self.participants or ())
        tx = self.tx
        if tx is not None:
            return store._commit_writes(tx._writes, None, False, self.spec.name, participants)
        return store.apply(self.pending(), requester=self.spec.name, participants=participants)

    def signal_writes(self) -> dict[str, Any]:
        """The call's SIGNAL writes ``path -> frozen value``, in write order."""
        tx = self.tx
        return {} if tx is None else tx.signal_writes

    def abort(self) -> None:
        self.closed = "rolled back"
        self.committed = self.writes = _NOTHING
        self.tx = None
        if self.participants is not None:
            for participant in self.participants:
                participant.on_rollback()
