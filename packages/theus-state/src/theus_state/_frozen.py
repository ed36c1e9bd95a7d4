"""Immutable values: how snapshots stay immutable without deep copies.

Rules (the copy-on-write guarantee):
- Every value written into the state goes through :func:`freeze` once, at write time.
  Mappings become :class:`FrozenMap` (a persistent hash-array-mapped trie from
  ``immutables``: a one-key change shares all other entries), lists become
  :class:`FrozenList` (a read-only ``list`` subclass), tuples and sets are rebuilt from
  frozen items, and immutable scalars (str, int, float, bool, None, bytes, Decimal,
  datetime, UUID, enums, frozen dataclasses ...) are shared as they are.
- numpy arrays are copied once and marked read-only; any other object is deep-copied at
  write time and handed out as a fresh deep copy on every read (:class:`Opaque`).
- Consequently nothing a reader obtains can be mutated in place into committed state, and
  the caller's own object (the mapping a Store was built from, a value after ``tx.set``)
  is never aliased by the state. Reads cost nothing extra for frozen containers.

Storage form (internal): the state tree is made of raw ``immutables.Map`` *nodes*; a
mapping stored in a node is itself a node (:func:`node_of` makes that form). A
:class:`FrozenMap` is the read-only face of a node, made when a reader receives one
(:func:`out`) -- so a commit never allocates wrappers, only the nodes it changes.
Elsewhere (items of lists and tuples, values handed to users) mappings are FrozenMaps.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn

import immutables

__all__ = [
    "EMPTY_NODE",
    "FrozenList",
    "FrozenMap",
    "Node",
    "Opaque",
    "freeze",
    "node_of",
    "out",
    "thaw",
]

Node = immutables.Map  # a node of the state tree
EMPTY_NODE: immutables.Map[Any, Any] = immutables.Map()


class Opaque:
    """An object of a type Theus cannot freeze: stored as a private deep copy."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def get(self) -> Any:
        return copy.deepcopy(self.obj)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Opaque, (self.obj,))


def out(v: Any) -> Any:
    """A stored value as a reader receives it: a node as a FrozenMap, an Opaque object as
    a fresh deep copy, anything else as it is."""
    t = type(v)
    if t is Node:  # wrap(v), inlined: this runs on every read of a mapping
        fm = _new(FrozenMap)
        _set_m(fm, v)
        return fm
    return v.get() if t is Opaque else v


class FrozenMap(Mapping[Any, Any]):
    """A read-only, persistent mapping. Keys are also readable as attributes
    (``m.user.name``) unless they start with ``_`` or shadow a method name.
    Equal to any mapping with the same items."""

    __slots__ = ("_m",)
    _m: immutables.Map[Any, Any]  # a node: values in storage form

    def __init__(self, data: Mapping[Any, Any] | Iterable[tuple[Any, Any]] = (), /) -> None:
        items = data.items() if isinstance(data, Mapping) else data
        object.__setattr__(self, "_m", immutables.Map({k: node_of(v) for k, v in items}))

    def __getitem__(self, key: Any) -> Any:
        return out(self._m[key])

    def get(self, key: Any, default: Any = None) -> Any:
        v = self._m.get(key, _ABSENT)
        return default if v is _ABSENT else out(v)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            v = self._m[name]
        except KeyError:
            raise AttributeError(f"FrozenMap has no key {name!r}") from None
        return out(v)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise TypeError("FrozenMap is read-only; write through a transaction")

    __delattr__ = __setattr__  # type: ignore[assignment]

    def __contains__(self, key: object) -> bool:
        return key in self._m

    def __iter__(self) -> Iterator[Any]:
        return iter(self._m)

    def __len__(self) -> int:
        return len(self._m)

    def __eq__(self, other: object) -> bool:
        if type(other) is FrozenMap:
            return self._m == other._m
        if isinstance(other, Mapping):
            if len(other) != len(self._m):
                return False
            missing = object()
            return all(other.get(k, missing) == out(v) for k, v in self._m.items())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._m)

    def __repr__(self) -> str:
        return f"FrozenMap({dict(self.items())!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_map, (dict(self._m.items()),))

    def __copy__(self) -> FrozenMap:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenMap:
        return self

    def set(self, key: Any, value: Any) -> FrozenMap:
        """A new FrozenMap with ``key`` set (this one is unchanged)."""
        return wrap(self._m.set(key, node_of(value)))

    def delete(self, key: Any) -> FrozenMap:
        """A new FrozenMap without ``key`` (raises KeyError if absent)."""
        return wrap(self._m.delete(key))

    def to_dict(self) -> dict[Any, Any]:
        """A plain, mutable deep copy (dicts and lists all the way down)."""
        return {k: thaw(v) for k, v in self._m.items()}


def _rebuild_map(items: dict[Any, Any]) -> FrozenMap:
    return wrap(immutables.Map(items))


_ABSENT: Any = object()
_new = object.__new__
_set_m = FrozenMap.__dict__["_m"].__set__


def wrap(m: immutables.Map[Any, Any]) -> FrozenMap:
    """Internal fast constructor: a FrozenMap over an already-frozen ``immutables.Map``."""
    fm = _new(FrozenMap)
    _set_m(fm, m)
    return fm


def _readonly(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError("FrozenList is read-only; build a new list and write it through a transaction")


class FrozenList(list[Any]):
    """A read-only ``list``: equal to lists, JSON-serializable, but every mutator raises
    ``TypeError``. Items are frozen too."""

    __slots__ = ()

    def __new__(cls, items: Iterable[Any] = ()) -> FrozenList:
        self = super().__new__(cls)
        list.extend(self, items)
        return self

    def __init__(self, items: Iterable[Any] = ()) -> None:  # already filled by __new__
        pass

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _readonly
    append = extend = insert = pop = remove = clear = sort = reverse = _readonly

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self

    def __repr__(self) -> str:
        return f"FrozenList({list.__repr__(self)})"


_IMMUTABLE: set[type] = {
    str,
    int,
    float,
    bool,
    complex,
    bytes,
    type(None),
    decimal.Decimal,
    fractions.Fraction,
    datetime.date,
    datetime.datetime,
    datetime.time,
    datetime.timedelta,
    datetime.timezone,
    uuid.UUID,
    range,
    FrozenList,
}


def freeze(value: Any) -> Any:
    """Return an immutable equivalent of ``value`` (see the module rules).

    Raises ``TypeError`` when an unknown object cannot be deep-copied."""
    v = node_of(value)
    return wrap(v) if type(v) is Node else v


def node_of(value: Any) -> Any:
    """:func:`freeze` in storage form: a mapping becomes a node (``immutables.Map``)
    whose mappings are nodes too; items of lists and tuples are frozen as by ``freeze``.

    Raises ``TypeError`` when an unknown object cannot be deep-copied."""
    t = type(value)
    if t in _IMMUTABLE:
        return value
    if t is FrozenMap:
        return value._m
    if t is dict:
        return immutables.Map({k: node_of(v) for k, v in value.items()})
    if t is list:
        return FrozenList(freeze(v) for v in value)
    if t is tuple:
        return tuple(freeze(v) for v in value)
    if t is set or t is frozenset:
        return frozenset(value)
    if t is Opaque:
        return value
    if isinstance(value, Mapping):  # immutables.Map included: its values may be mutable
        return immutables.Map({k: node_of(v) for k, v in value.items()})
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, tuple):
        items = [freeze(v) for v in value]
        return t._make(items) if hasattr(t, "_make") else t(items)
    if isinstance(value, (str, int, float, bytes)):
        return value
    if dataclasses.is_dataclass(value) and t.__dataclass_params__.frozen:
        return value
    if t.__name__ == "ndarray" and t.__module__ == "numpy":
        arr = value.copy()
        arr.setflags(write=False)
        return arr
    try:
        return Opaque(copy.deepcopy(value))
    except Exception as exc:  # deepcopy may raise anything the object's hooks raise
        raise TypeError(
            f"{t.__name__} is neither freezable nor copyable ({exc}); store it in a heavy_ "
            "field (by reference) or make it immutable"
        ) from exc


def thaw(value: Any) -> Any:
    """Plain, mutable deep copy of a frozen value (the inverse of :func:`freeze`)."""
    t = type(value)
    if t is FrozenMap:
        return {k: thaw(v) for k, v in value._m.items()}
    if t is Node:
        return {k: thaw(v) for k, v in value.items()}
    if t is FrozenList:
        return [thaw(v) for v in value]
    if t is tuple:
        return tuple(thaw(v) for v in value)
    if t is Opaque:
        return value.get()
    return value
