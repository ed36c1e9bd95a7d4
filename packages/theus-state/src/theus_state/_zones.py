"""Zone routing for mapping values.

When a whole mapping is written to a DATA path, fields inside it may belong to other
zones: ``heavy_`` fields are routed to the HEAVY table (by reference), ``sig_``/``cmd_``
fields become SIGNAL writes of their own, and ``const_`` fields are collected so that the
caller can refuse any change to a constant. SIGNAL/META/HEAVY/CONSTANT subtrees are not
routed (the outermost marked segment governs its subtree).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._frozen import FrozenMap, Node
from ._paths import Zone, zone_of_key

__all__ = ["Routed", "collect_constants", "route_mapping"]

Keys = tuple[str, ...]


class Routed:
    __slots__ = ("constants", "heavy", "signals")

    def __init__(self) -> None:
        self.heavy: list[tuple[Keys, Any]] = []
        self.signals: list[tuple[Keys, Any]] = []
        self.constants: dict[Keys, Any] = {}


def route_mapping(keys: Keys, value: Mapping[Any, Any], out: Routed) -> dict[Any, Any]:
    """Copy of ``value`` without HEAVY/SIGNAL fields (appended to ``out``); CONSTANT fields
    stay in the copy and are also recorded in ``out.constants``."""
    result: dict[Any, Any] = {}
    for k, v in value.items():
        zone = zone_of_key(k)
        if zone is None:
            if isinstance(v, Mapping) and not isinstance(v, FrozenMap):
                v = route_mapping((*keys, k), v, out)
            elif type(v) is FrozenMap:
                collect_constants((*keys, k), v._m, out.constants)
            result[k] = v
        elif zone is Zone.HEAVY:
            out.heavy.append(((*keys, k), v))
        elif zone is Zone.SIGNAL:
            out.signals.append(((*keys, k), v))
        else:
            if zone is Zone.CONSTANT:
                out.constants[(*keys, k)] = v
            result[k] = v
    return result


def collect_constants(keys: Keys, node: Any, out: dict[Keys, Any]) -> None:
    """Record every CONSTANT field stored under ``node`` (storage form)."""
    if type(node) is not Node:
        return
    for k, v in node.items():
        zone = zone_of_key(k)
        if zone is Zone.CONSTANT:
            out[(*keys, k)] = v
        elif zone is None:
            collect_constants((*keys, k), v, out)
