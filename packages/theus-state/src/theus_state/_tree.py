"""Persistent tree operations on FrozenMap roots.

The committed state is one FrozenMap root ``{"domain": ..., "global": ..., "local": ...}``
whose inner mappings are FrozenMaps too. ``tree_set``/``tree_delete`` return a new root
and share every untouched node with the old one, so a write costs O(depth), whatever the
size of the state, and old roots (snapshots) never change.
"""

from __future__ import annotations

from typing import Any, Final

from ._frozen import EMPTY_MAP, FrozenMap, wrap

__all__ = ["MISSING", "NotAMapping", "tree_delete", "tree_get", "tree_set"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final[Any] = _Missing()


class NotAMapping(Exception):
    """Internal: keys[:depth] holds a value that is not a mapping."""

    def __init__(self, depth: int, value: Any) -> None:
        self.depth = depth
        self.value = value


def tree_get(root: FrozenMap, keys: tuple[str, ...]) -> Any:
    """The raw stored value at ``keys`` or MISSING (never raises)."""
    node: Any = root
    for k in keys:
        if type(node) is not FrozenMap:
            return MISSING
        node = node._m.get(k, MISSING)
        if node is MISSING:
            return MISSING
    return node


def tree_set(root: FrozenMap, keys: tuple[str, ...], value: Any) -> FrozenMap:
    """New root with ``value`` (already frozen) at ``keys``; creates missing mappings."""
    if len(keys) == 2:  # the common case, "layer.field"
        k0, k1 = keys
        m0 = root._m
        layer = m0.get(k0, EMPTY_MAP)
        if type(layer) is not FrozenMap:
            raise NotAMapping(1, layer)
        return wrap(m0.set(k0, wrap(layer._m.set(k1, value))))
    nodes: list[FrozenMap] = []
    node: Any = root
    last = len(keys) - 1
    for i, k in enumerate(keys):
        if node is MISSING:
            node = EMPTY_MAP
        elif type(node) is not FrozenMap:
            raise NotAMapping(i, node)
        nodes.append(node)
        if i < last:
            node = node._m.get(k, MISSING)
    new: Any = value
    for i in range(last, -1, -1):
        new = wrap(nodes[i]._m.set(keys[i], new))
    return new  # type: ignore[no-any-return]


def tree_delete(root: FrozenMap, keys: tuple[str, ...]) -> FrozenMap:
    """New root without ``keys``. Raises KeyError when nothing is stored there."""
    nodes: list[FrozenMap] = []
    node: Any = root
    for k in keys:
        if type(node) is not FrozenMap or k not in node._m:
            raise KeyError(k)
        nodes.append(node)
        node = node._m[k]
    last = len(keys) - 1
    new = wrap(nodes[last]._m.delete(keys[last]))
    for i in range(last - 1, -1, -1):
        new = wrap(nodes[i]._m.set(keys[i], new))
    return new
