"""Immutable, versioned snapshots of a context.

A :class:`State` wraps one root node (``domain``/``global``/``local``), the version
of the commit that produced it, the SIGNAL values of that commit and a reference to the
store's HEAVY table. Creating a State is O(1); reading a path is a cached parse plus one
hash lookup per segment; nothing is ever deep-copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ._frozen import EMPTY_NODE, FrozenMap, Node, out, thaw, wrap
from ._heavy import HeavyStore
from ._paths import _CACHE, Zone, parse_path, zone_of_key
from ._tree import MISSING, NotAMapping, tree_set
from .exceptions import PathNotFound

__all__ = ["State"]

_DATA_ZONES = (None, Zone.CONSTANT)
_EMPTY_SIGNALS: Mapping[str, Any] = MappingProxyType({})
_HEAVY = Zone.HEAVY
_ABSENT = object()  # a default ``get`` hands back (MISSING means "no default")


class State:
    """An immutable snapshot. ``state.get(path)``, ``state.domain``, ``state.version``."""

    __slots__ = ("_heavy", "_root", "_signals", "version")

    def __init__(
        self,
        version: int,
        root: Node[str, Any],
        heavy: HeavyStore,
        signals: Mapping[str, Any] = _EMPTY_SIGNALS,
    ) -> None:
        self.version = version
        self._root = root
        self._heavy = heavy
        self._signals = signals

    def get(self, path: str, default: Any = MISSING) -> Any:
        """The value at ``path``; ``default`` if given and nothing is stored there, else
        :class:`PathNotFound`. HEAVY paths return the object itself."""
        p = _CACHE.get(path)
        if p is None:
            p = parse_path(path)
        if p.zone is _HEAVY:
            v = self._heavy.lookup(p)
        else:
            v = self._root
            for k in p.keys:
                if type(v) is not Node:
                    v = MISSING
                    break
                v = v.get(k, MISSING)
                if v is MISSING:
                    break
        if v is MISSING:
            if default is MISSING:
                raise PathNotFound(p.text)
            return default
        if type(v) is Node and len(self._heavy):
            v = with_heavy(v, p.keys, self._heavy)
        return out(v)

    def __contains__(self, path: str) -> bool:
        """``path in state``: something is stored at ``path`` (a bad path still raises
        ``InvalidPath``)."""
        return self.get(path, _ABSENT) is not _ABSENT

    def _layer(self, name: str) -> FrozenMap:
        layer = self._root.get(name, EMPTY_NODE)
        if len(self._heavy):
            layer = with_heavy(layer, (name,), self._heavy)
        return wrap(layer)

    @property
    def domain(self) -> FrozenMap:
        """Read-only view of the domain layer (HEAVY fields included, by reference)."""
        return self._layer("domain")

    @property
    def global_(self) -> FrozenMap:
        """Read-only view of the global layer."""
        return self._layer("global")

    global_ctx = global_

    @property
    def local(self) -> FrozenMap:
        return self._layer("local")

    @property
    def signals(self) -> Mapping[str, Any]:
        """SIGNAL values written by the commit that produced this snapshot (path → value)."""
        return self._signals

    @property
    def heavy(self) -> Mapping[str, Any]:
        """HEAVY objects by path (shared with the store: never snapshotted)."""
        return self._heavy

    @property
    def root(self) -> FrozenMap:
        """The whole tree (all layers; DATA, CONSTANT, META and SIGNAL fields)."""
        return wrap(self._root)

    def to_dict(self) -> dict[str, Any]:
        """``{"domain": ..., "global": ...}`` as plain dicts, DATA and CONSTANT fields only."""
        return {name: _thaw_data(self._root.get(name, EMPTY_NODE)) for name in ("domain", "global")}

    def __repr__(self) -> str:
        return f"<State version={self.version}>"


def with_heavy(node: Node[str, Any], keys: tuple[str, ...], heavy: HeavyStore) -> Any:
    """``node`` (the mapping stored at ``keys``) with the HEAVY objects stored below it
    put back in place, by reference: what a reader of that mapping expects to see."""
    depth = len(keys)
    for hkeys, obj in heavy.entries():
        if len(hkeys) > depth and hkeys[:depth] == keys:
            try:
                node = tree_set(node, hkeys[depth:], obj)
            except NotAMapping:
                continue
    return node


def _thaw_data(node: Any) -> Any:
    if type(node) is Node:
        return {k: _thaw_data(v) for k, v in node.items() if zone_of_key(k) in _DATA_ZONES}
    return thaw(node)
