"""Building the initial context from user objects.

Accepted: a mapping ``{"domain": {...}, "global": {...}, "local": {...}}`` (``global_``,
``global_ctx``, ``domain_ctx`` and ``local_ctx`` are aliases), a dataclass instance whose
fields are the layers, or any object with a ``model_dump()`` method (pydantic-like).
Layer values may themselves be mappings, dataclasses or models; nested dataclasses and
models become mappings so that dotted paths address their fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ._paths import _LAYER_ALIASES, LAYERS
from .exceptions import InvalidContext

__all__ = ["normalize_context"]


def _is_dataclass_instance(obj: Any) -> bool:
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type)


def _to_plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _to_plain(v) for k, v in value.items()}
    if _is_dataclass_instance(value) and not type(value).__dataclass_params__.frozen:
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return _to_plain(dump())
    return value


def _top_level(context: Any) -> Mapping[Any, Any]:
    if isinstance(context, Mapping):
        return context
    dump = getattr(context, "model_dump", None)
    if callable(dump) and not isinstance(context, type):
        data = dump()
        if not isinstance(data, Mapping):
            raise InvalidContext(
                f"{type(context).__name__}.model_dump() returned {type(data).__name__}, "
                "not a mapping",
                value=context,
            )
        return data
    if _is_dataclass_instance(context):
        return {f.name: getattr(context, f.name) for f in dataclasses.fields(context)}
    raise InvalidContext(
        f"cannot build a context from {type(context).__name__}: expected a mapping "
        "{'domain': ..., 'global': ...}, a dataclass or an object with model_dump()",
        value=context,
    )


def normalize_context(context: Any) -> dict[str, dict[Any, Any]]:
    """Return ``{layer: plain mapping}`` for the layers present in ``context``."""
    if context is None:
        return {}
    out: dict[str, dict[Any, Any]] = {}
    for key, value in _top_level(context).items():
        layer = _LAYER_ALIASES.get(key) if isinstance(key, str) else None
        if layer is None:
            raise InvalidContext(
                f"unknown layer {key!r} in context (expected one of {', '.join(LAYERS)})",
                value=context,
            )
        if layer in out:
            raise InvalidContext(f"layer {layer!r} given twice (as {key!r})", value=context)
        if value is None:
            out[layer] = {}
            continue
        plain = _to_plain(value)
        if not isinstance(plain, Mapping):
            raise InvalidContext(
                f"layer {key!r} must be a mapping, a dataclass or a model, "
                f"not {type(value).__name__}",
                value=context,
            )
        out[layer] = dict(plain)
    return out
