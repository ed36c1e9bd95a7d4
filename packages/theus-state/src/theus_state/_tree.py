"""Persistent tree operations on the state's root node.

The committed state is one root node ``{"domain": ..., "global": ..., "local": ...}``: a
raw ``immutables.Map`` whose inner mappings are nodes too (see ``_frozen``: the storage
form). ``tree_set``/``tree_delete`` return a new root and share every untouched node with
the old one, so a write costs O(depth), whatever the size of the state, and old roots
(snapshots) never change.
"""

from __future__ import annotations

from typing import Any, Final

from ._frozen import EMPTY_NODE, Node

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


def tree_get(root: Node[str, Any], keys: tuple[str, ...]) -> Any:
    """The raw stored value at ``keys`` (storage form) or MISSING (never raises)."""
    node: Any = root
    for k in keys:
        if type(node) is not Node:
            return MISSING
        node = node.get(k, MISSING)
        if node is MISSING:
            return MISSING
    return node


def tree_set(root: Node[str, Any], keys: tuple[str, ...], value: Any) -> Node[str, Any]:
    """New root with ``value`` (in storage form) at ``keys``; creates missing mappings."""
    if len(keys) == 2:  # the common case, "layer.field"
        k0, k1 = keys
        layer = root.get(k0, EMPTY_NODE)
        if type(layer) is not Node:
            raise NotAMapping(1, layer)
        return root.set(k0, layer.set(k1, value))
    nodes: list[Node[str, Any]] = []
    node: Any = root
    last = len(keys) - 1
    for i, k in enumerate(keys):
        if node is MISSING:
            node = EMPTY_NODE
        elif type(node) is not Node:
            raise NotAMapping(i, node)
        nodes.append(node)
        if i < last:
            node = node.get(k, MISSING)
    new: Any = value
    for i in range(last, -1, -1):
        new = nodes[i].set(keys[i], new)
    return new  # type: ignore[no-any-return]


def tree_delete(root: Node[str, Any], keys: tuple[str, ...]) -> Node[str, Any]:
    """New root without ``keys``. Raises KeyError when nothing is stored there."""
    nodes: list[Node[str, Any]] = []
    node: Any = root
    for k in keys:
        if type(node) is not Node or k not in node:
            raise KeyError(k)
        nodes.append(node)
        node = node[k]
    last = len(keys) - 1
    new = nodes[last].delete(keys[last])
    for i in range(last - 1, -1, -1):
        new = nodes[i].set(keys[i], new)
    return new
