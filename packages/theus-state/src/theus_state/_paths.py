"""Dotted paths, layers and zones.

A path is a dotted string whose first segment is a layer (``domain``, ``global`` -- with
the aliases ``global_`` and ``global_ctx`` -- or ``local``) followed by mapping keys:
``domain.user.name``. Parsing is cached, so a path costs one dict lookup after its first
use. The zone of a path is decided by the first segment (from the root) that carries a
zone prefix: ``heavy_`` → HEAVY, ``sig_``/``cmd_`` → SIGNAL, ``meta_`` → META,
``const_`` → CONSTANT; a path with no such segment is DATA. The outermost marked segment
governs its whole subtree (``domain.heavy_x.meta_y`` is HEAVY).
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

from .exceptions import InvalidPath

__all__ = ["LAYERS", "ParsedPath", "Zone", "parse_path", "zone_of_key"]


class Zone(enum.StrEnum):
    DATA = "data"
    HEAVY = "heavy"
    SIGNAL = "signal"
    META = "meta"
    CONSTANT = "constant"

    def __str__(self) -> str:
        return self.name


LAYERS = ("domain", "global", "local")
_LAYER_ALIASES = {
    "domain": "domain",
    "domain_ctx": "domain",
    "global": "global",
    "global_": "global",
    "global_ctx": "global",
    "local": "local",
    "local_ctx": "local",
}
_PREFIXES = (
    ("heavy_", Zone.HEAVY),
    ("sig_", Zone.SIGNAL),
    ("cmd_", Zone.SIGNAL),
    ("meta_", Zone.META),
    ("const_", Zone.CONSTANT),
)


def zone_of_key(key: Any) -> Zone | None:
    """The zone a single field name selects, or None for a plain (DATA) name."""
    if type(key) is str:
        for prefix, zone in _PREFIXES:
            if key.startswith(prefix):
                return zone
    return None


class ParsedPath(NamedTuple):
    text: str  # canonical text ("global" for every alias)
    keys: tuple[str, ...]  # (layer, key, key, ...)
    zone: Zone
    zone_depth: int  # index in keys of the segment that selected the zone (0 for DATA)
    ancestors: tuple[str, ...]  # canonical texts of the proper prefixes, shortest first


_CACHE: dict[Any, ParsedPath] = {}
_CACHE_MAX = 200_000


def _parse(path: Any) -> ParsedPath:
    if not isinstance(path, str):
        raise InvalidPath(path, f"a path must be a string, not {type(path).__name__}")
    if not path:
        raise InvalidPath(path, "empty path")
    keys = path.split(".")
    for i, seg in enumerate(keys):
        if not seg:
            raise InvalidPath(path, f"empty segment at position {i}")
        if seg != seg.strip():
            raise InvalidPath(path, f"segment {seg!r} has surrounding whitespace")
    layer = _LAYER_ALIASES.get(keys[0])
    if layer is None:
        raise InvalidPath(path, f"unknown layer {keys[0]!r} (expected one of {', '.join(LAYERS)})")
    keys[0] = layer
    zone = Zone.DATA
    depth = 0
    for i in range(1, len(keys)):
        z = zone_of_key(keys[i])
        if z is not None:
            zone, depth = z, i
            break
    t = tuple(keys)
    ancestors = tuple(".".join(t[:i]) for i in range(1, len(t)))
    return ParsedPath(".".join(t), t, zone, depth, ancestors)


def parse_path(path: Any) -> ParsedPath:
    """Parse and validate ``path`` (cached). Raises :class:`InvalidPath`."""
    try:
        return _CACHE[path]
    except KeyError:
        pass
    except TypeError:  # unhashable
        raise InvalidPath(path, f"a path must be a string, not {type(path).__name__}") from None
    parsed = _parse(path)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[path] = parsed
    return parsed
