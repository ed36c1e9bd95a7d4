"""Run-time support of compiled conditions: field access, guarded operators, tables.

See ``_condition`` for the language. Everything here is called from the closures that
``_cond_compiler`` builds; nothing here ever sees user text.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "BINOPS",
    "CMPOPS",
    "CONTEXT_NAMES",
    "FUNCTIONS",
    "UNARYOPS",
    "context_value",
    "get",
    "is_mapping",
    "lookup",
]

MAX_POW_BITS = 100_000
MAX_SEQUENCE = 1_000_000

CONTEXT_NAMES: dict[str, tuple[str, ...]] = {
    # name in the language -> keys / attributes tried on the context, in order
    "domain": ("domain",),
    "global": ("global", "global_", "global_ctx"),
    "global_": ("global_", "global", "global_ctx"),
    "global_ctx": ("global_ctx", "global_", "global"),
    "signal": ("signal",),
    "meta": ("meta",),
}
# name -> (callable, min positional args, max positional args or None)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "len": (len, 1, 1),
    "int": (int, 0, 2),
    "float": (float, 0, 1),
    "str": (str, 0, 1),
    "bool": (bool, 0, 1),
    "abs": (abs, 1, 1),
    "min": (min, 1, None),
    "max": (max, 1, None),
    "sum": (sum, 1, 2),
    "round": (round, 1, 2),
}


def _mul(a: Any, b: Any) -> Any:
    for seq, n in ((a, b), (b, a)):
        if (
            isinstance(seq, str | list | tuple)
            and isinstance(n, int)
            and len(seq) * n > (MAX_SEQUENCE)
        ):
            raise ValueError(f"sequence repetition longer than {MAX_SEQUENCE} items refused")
    return a * b


def _pow(a: Any, b: Any) -> Any:
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and b > 0
        and abs(a) > 1
        and a.bit_length() * b > MAX_POW_BITS
    ):
        raise ValueError(f"integer power larger than {MAX_POW_BITS} bits refused")
    return a**b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes):
        raise TypeError("'%' string formatting is not supported in conditions")
    return a % b


def _contains(a: Any, b: Any) -> bool:
    return a in b


def _not_contains(a: Any, b: Any) -> bool:
    return a not in b


BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: _mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: _mod,
    ast.Pow: _pow,
}
CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: _contains,
    ast.NotIn: _not_contains,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
UNARYOPS: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


# Plain values are indexed as Python indexes them, never read by attribute.
_PLAIN = (str, bytes, int, float, complex, list, tuple, set, frozenset, type(None))

# Types already seen to be Mappings: a set lookup instead of the ABC check (which runs
# Python code) on every field access. Only positive answers are kept, so a class
# registered as a Mapping later is still seen as one; bounded like any cache.
_MAPPING_TYPES: set[type] = {dict}
_MAPPING_TYPES_MAX = 1024


def is_mapping(obj: Any) -> bool:
    """``isinstance(obj, Mapping)``, remembered per type."""
    tp = type(obj)
    if tp in _MAPPING_TYPES:
        return True
    if not isinstance(obj, Mapping):
        return False
    if len(_MAPPING_TYPES) >= _MAPPING_TYPES_MAX:
        _MAPPING_TYPES.clear()
        _MAPPING_TYPES.add(dict)
    _MAPPING_TYPES.add(tp)
    return True


def lookup(obj: Any, key: Any) -> Any:
    """``obj.key`` / ``obj[key]`` as the language defines it (see the module docstring)."""
    if type(obj) in _MAPPING_TYPES or is_mapping(obj):
        return obj[key]
    if isinstance(key, str) and not isinstance(obj, _PLAIN):
        if key.startswith("_"):
            raise PermissionError(f"private field {key!r} is not readable")
        if hasattr(type(obj), "__getitem__"):
            try:
                return obj[key]
            except (LookupError, TypeError):
                pass
        return getattr(obj, key)
    return obj[key]


def get(obj: Any, key: Any, default: Any = None) -> Any:
    if is_mapping(obj):
        return obj.get(key, default)
    try:
        return lookup(obj, key)
    except (LookupError, AttributeError, TypeError):
        return default


def context_value(ctx: Any, name: str) -> Any:
    keys = CONTEXT_NAMES[name]
    if type(ctx) in _MAPPING_TYPES or is_mapping(ctx):
        for key in keys:
            try:
                return ctx[key]  # one lookup: a live mapping may compute each value
            except KeyError:
                continue
    else:
        for key in keys:
            try:
                return getattr(ctx, key)
            except AttributeError:
                continue
    raise LookupError(f"name {name!r} is not in the context")
