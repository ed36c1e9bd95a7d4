"""Validating and freezing one write, shared by transactions, CAS and blind applies.

``prepare_set`` / ``prepare_delete`` raise before anything changes (bad zone, changed
constant, unstorable value) and return the entries to apply (values in storage form:
see ``_frozen``) plus the HEAVY
values to write through. A mapping written to a DATA path is routed: its ``heavy_``
fields go to the HEAVY table, its ``sig_``/``cmd_`` fields become SIGNAL entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._frozen import FrozenMap, Node, node_of
from ._paths import ParsedPath, Zone, parse_path
from ._tree import MISSING, tree_get
from ._zones import Routed, collect_constants, route_mapping
from .exceptions import InvalidPath, InvalidValue, ZoneViolation

__all__ = ["DELETED", "FAST_TYPES", "check_constants", "prepare_delete", "prepare_set"]

Entry = tuple[ParsedPath, Any]


class _Deleted:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<deleted>"


DELETED: Any = _Deleted()
FAST_TYPES = frozenset({int, float, str, bool, type(None), bytes})


def check_constants(p: ParsedPath, root: Node[str, Any], fresh: dict[tuple[str, ...], Any]) -> None:
    """Refuse a write at ``p`` that would add, change or drop a CONSTANT field."""
    old: dict[tuple[str, ...], Any] = {}
    collect_constants(p.keys, tree_get(root, p.keys), old)
    if not old and not fresh:
        return
    for keys in old.keys() | fresh.keys():
        o, n = old.get(keys, MISSING), fresh.get(keys, MISSING)
        if o is MISSING or n is MISSING or node_of(n) != o:
            raise ZoneViolation(".".join(keys), "CONSTANT", "constant fields cannot change")


def _freeze(text: str, value: Any) -> Any:
    try:
        return node_of(value)
    except TypeError as exc:
        raise InvalidValue(text, type(value).__name__, str(exc)) from None


def prepare_set(p: ParsedPath, value: Any, root: Node[str, Any]) -> tuple[list[Entry], list[Entry]]:
    zone = p.zone
    if zone is Zone.HEAVY:
        return [], [(p, value)]
    if zone is Zone.CONSTANT:
        raise ZoneViolation(p.text, "CONSTANT", "constant fields cannot be written")
    if value is DELETED:
        return [prepare_delete(p, root)], []
    if type(value) in FAST_TYPES:
        if type(tree_get(root, p.keys)) is Node:
            check_constants(p, root, {})
        return [(p, value)], []
    routed = None
    if zone is Zone.DATA and isinstance(value, Mapping) and type(value) is not FrozenMap:
        routed = Routed()
        value = route_mapping(p.keys, value, routed)
    frozen = _freeze(p.text, value)
    if routed is not None:
        fresh = routed.constants
    else:  # a FrozenMap (already frozen, so not routed) brings its own CONSTANT fields
        fresh = {}
        collect_constants(p.keys, frozen, fresh)
    check_constants(p, root, fresh)
    entries: list[Entry] = [(p, frozen)]
    heavy: list[Entry] = []
    if routed is not None:
        for keys, v in routed.signals:
            sp = parse_path(".".join(keys))
            entries.append((sp, _freeze(sp.text, v)))
        for keys, v in routed.heavy:
            heavy.append((parse_path(".".join(keys)), v))
    return entries, heavy


def prepare_delete(p: ParsedPath, root: Node[str, Any]) -> Entry:
    if p.zone is Zone.CONSTANT:
        raise ZoneViolation(p.text, "CONSTANT", "constant fields cannot be deleted")
    if len(p.keys) == 1:
        raise InvalidPath(p.text, "a layer cannot be deleted")
    check_constants(p, root, {})
    return (p, DELETED)
