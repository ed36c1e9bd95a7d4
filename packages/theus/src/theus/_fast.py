"""``strict_mode=False``: no guards, no transaction object, deferred writes.

A fast call reads the snapshot it started from plus its own pending writes and keeps its
writes in a dict; when the body returns they are applied in one blind, atomic store
write (last writer wins: no conflict detection, no retry). An exception discards them,
so even the fast mode never leaves half a call behind (HEAVY writes excepted: they are
write-through by design).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from theus_state import DELETED, PathNotFound, State, Transaction, Zone, parse_path
from theus_state._paths import _CACHE

from ._context import View, _new_view

if TYPE_CHECKING:
    from ._calls import ProcessCalls
    from ._context import _Scratch
    from ._contracts import ProcessSpec

__all__ = ["FastRun"]

_HEAVY = Zone.HEAVY
_SIGNAL = Zone.SIGNAL


class _Participants:
    """Collects commit participants (the outbox collector) for ``store.apply``."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Any] = []

    def attach(self, participant: Any) -> None:
        self.items.append(participant)


class FastRun:
    __slots__ = (
        "engine",
        "has_signals",
        "layers",
        "local",
        "outbox",
        "participants",
        "spec",
        "state",
        "writes",
    )
    strict = False

    def __init__(self, engine: ProcessCalls, spec: ProcessSpec, state: State) -> None:
        self.engine = engine
        self.spec = spec
        self.state = state
        self.writes: dict[str, Any] = {}
        self.layers: dict[str, View] = {}
        self.local: _Scratch | None = None
        self.outbox: Any = None
        self.participants: _Participants | None = None
        self.has_signals = False

    def deny(self, path: str, access: str, reason: str) -> Exception:
        from .exceptions import ContractViolation

        return ContractViolation(self.spec.name, path, access, reason)

    def _overlay(self) -> Transaction:
        """A throw-away transaction holding the pending writes (rare path: a read of a
        path related to, but not equal to, a pending write)."""
        tx = Transaction(self.engine._store, self.state)
        for path, value in self.writes.items():
            if value is DELETED:
                tx.delete(path)
            else:
                tx.set(path, value)
        return tx

    def read(self, path: str) -> Any:
        writes = self.writes
        if writes:
            if path in writes:
                value = writes[path]
                if value is DELETED:
                    raise PathNotFound(path)
                return value
            dotted = path + "."
            if any(k.startswith(dotted) or path.startswith(k + ".") for k in writes):
                return self._overlay().get(path)
        return self.state.get(path)

    def has(self, path: str) -> bool:
        try:
            self.read(path)
        except KeyError:
            return False
        return True

    def write(self, path: str, value: Any) -> None:
        p = _CACHE.get(path) or parse_path(path)
        zone = p.zone
        if zone is _HEAVY:
            self.engine._store.apply({path: value})  # write-through, as in strict mode
            return
        if zone is _SIGNAL:
            self.has_signals = True
        writes = self.writes
        writes.pop(p.text, None)
        writes[p.text] = value

    def delete(self, path: str) -> None:
        self.read(path)  # PathNotFound if absent
        self.write(path, DELETED)

    def layer(self, name: str) -> View:
        view = self.layers.get(name)
        if view is None:
            view = self.layers[name] = _new_view(self, name)  # type: ignore[arg-type]
        return view

    def whole(self, path: str) -> Any:
        return self._overlay().get(path, {}) if self.writes else self.state.get(path, {})

    def recent_signals(self) -> Any:
        return self.state.signals

    def attach(self, participant: Any) -> None:
        if self.participants is None:
            self.participants = _Participants()
        self.participants.attach(participant)

    def collector(self) -> Any:
        if self.outbox is None:
            if self.participants is None:
                self.participants = _Participants()
            self.outbox = self.engine._collector_for(self.participants)
        return self.outbox

    @property
    def version(self) -> int:
        return self.state.version

    def commit(self) -> int:
        store = self.engine._store
        if self.participants is None:
            if not self.writes:
                return self.state.version
            version = store._apply_simple(self.writes, self.spec.name)
            if version is not None:
                return version
            participants: list[Any] = []
        else:
            participants = self.participants.items
        return store.apply(self.writes, requester=self.spec.name, participants=participants)

    def abort(self) -> None:
        self.writes.clear()
        if self.participants is not None:
            for participant in self.participants.items:
                participant.on_rollback()
