"""Serialization of state values for the journal (orjson + tagged fallbacks).

Format: JSON (written with orjson). JSON-native values are stored as they are: str, bool,
None, finite floats, ints within 64 bits, lists (FrozenList too) and mappings whose keys
are all strings. Everything else becomes a tagged object ``{"$t": tag, "v": ...}``:

=========  ===============================================
tag        value
=========  ===============================================
tuple      list of items            set        list (decoded as frozenset)
map        list of [key, value]     bytes      base64
int        decimal string (big)     float      "nan" / "inf" / "-inf"
dec        Decimal string           frac       "n/d"
uuid       string                   cplx       [real, imag]
date/datetime/time  ISO string      td         [days, seconds, microseconds]
pickle     base64 of pickle.dumps (the documented fallback for any other type)
=========  ===============================================

Mappings that contain a ``"$t"`` key are stored as ``map`` so user data can never be read
back as a tag. Other types can be given a readable encoding with :func:`register_codec`;
the pickle fallback can be disabled per codec (``Codec(pickle_fallback=False)``), in which
case an unknown type fails the commit with :class:`SerializationError` naming the path.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import fractions
import math
import pickle
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ._frozen import FrozenList, FrozenMap, Node, Opaque
from .exceptions import SerializationError

__all__ = ["Codec", "default_codec", "register_codec"]

_I64 = 2**63
Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


class _Unserializable(Exception):
    def __init__(self, value_type: str, detail: str) -> None:
        self.value_type = value_type
        self.detail = detail


class Codec:
    """Encodes frozen state values into JSON bytes and back."""

    def __init__(self, *, pickle_fallback: bool = True) -> None:
        self.pickle_fallback = pickle_fallback
        self._by_type: dict[type, tuple[str, Encoder]] = {}
        self._by_tag: dict[str, Decoder] = {}

    def register(self, cls: type, tag: str, encode: Encoder, decode: Decoder) -> None:
        """Store instances of ``cls`` as ``{"$t": tag, "v": encode(obj)}``; read them back
        with ``decode(v)``. ``encode`` must return a JSON-native value."""
        if tag in _BUILTIN_TAGS:
            raise ValueError(f"tag {tag!r} is reserved")
        self._by_type[cls] = (tag, encode)
        self._by_tag[tag] = decode

    # -- encoding ------------------------------------------------------------------------
    def _enc(self, v: Any) -> Any:
        t = type(v)
        if t is str or t is bool or v is None:
            return v
        if t is int:
            return v if -_I64 <= v < _I64 else {"$t": "int", "v": str(v)}
        if t is float:
            return v if math.isfinite(v) else {"$t": "float", "v": repr(v)}
        if t is FrozenMap or t is dict or t is Node:
            items = v._m.items() if t is FrozenMap else v.items()
            pairs = list(items)
            if all(type(k) is str for k, _ in pairs) and not any(k == "$t" for k, _ in pairs):
                return {k: self._enc(x) for k, x in pairs}
            return {"$t": "map", "v": [[self._enc(k), self._enc(x)] for k, x in pairs]}
        if t is FrozenList or t is list:
            return [self._enc(x) for x in v]
        if t is tuple:
            return {"$t": "tuple", "v": [self._enc(x) for x in v]}
        if t is frozenset or t is set:
            return {"$t": "set", "v": [self._enc(x) for x in v]}
        if t is bytes:
            return {"$t": "bytes", "v": base64.b64encode(v).decode()}
        if t is Opaque:
            return self._fallback(v.obj)
        custom = self._by_type.get(t)
        if custom is not None:
            return {"$t": custom[0], "v": custom[1](v)}
        simple = _SIMPLE.get(t)
        if simple is not None:
            return {"$t": simple[0], "v": simple[1](v)}
        return self._fallback(v)

    def _fallback(self, v: Any) -> Any:
        if not self.pickle_fallback:
            raise _Unserializable(type(v).__name__, "no codec registered and pickle is off")
        try:
            data = pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - any pickling failure means "cannot store"
            raise _Unserializable(type(v).__name__, f"not picklable: {exc}") from None
        return {"$t": "pickle", "v": base64.b64encode(data).decode()}

    def encode_value(self, path: str, value: Any) -> Any:
        """JSON-native form of ``value``; raises SerializationError naming ``path``."""
        try:
            return self._enc(value)
        except _Unserializable as exc:
            raise SerializationError(path, exc.value_type, exc.detail) from None
        except RecursionError:
            raise SerializationError(path, type(value).__name__, "nested too deeply") from None

    def dumps(self, obj: Any) -> bytes:
        import orjson  # lazily: orjson cannot load in a sub-interpreter; workers never journal

        return orjson.dumps(obj)

    # -- decoding ------------------------------------------------------------------------
    def decode(self, v: Any) -> Any:
        t = type(v)
        if t is dict:
            tag = v.get("$t")
            if tag is None:
                return {k: self.decode(x) for k, x in v.items()}
            return self._untag(tag, v.get("v"))
        if t is list:
            return [self.decode(x) for x in v]
        return v

    def _untag(self, tag: str, v: Any) -> Any:
        if tag == "tuple":
            return tuple(self.decode(x) for x in v)
        if tag == "map":
            return {self.decode(k): self.decode(x) for k, x in v}
        if tag == "set":
            return frozenset(self.decode(x) for x in v)
        if tag == "bytes":
            return base64.b64decode(v)
        if tag == "int":
            return int(v)
        if tag == "float":
            return float(v)
        if tag == "pickle":
            return pickle.loads(base64.b64decode(v))
        if tag == "del":
            return _DELETE_MARK
        simple = _SIMPLE_DECODE.get(tag)
        if simple is not None:
            return simple(v)
        custom = self._by_tag.get(tag)
        if custom is not None:
            return custom(v)
        raise ValueError(f"unknown value tag {tag!r} in journal (a codec is not registered)")

    def loads(self, data: bytes | str) -> Any:
        import orjson

        return orjson.loads(data)


class _DeleteMark:
    __slots__ = ()


_DELETE_MARK: Any = _DeleteMark()
DELETE_TAG: Mapping[str, str] = {"$t": "del"}

_SIMPLE: dict[type, tuple[str, Callable[[Any], Any]]] = {
    decimal.Decimal: ("dec", str),
    fractions.Fraction: ("frac", str),
    uuid.UUID: ("uuid", str),
    complex: ("cplx", lambda c: [c.real, c.imag]),
    datetime.datetime: ("datetime", lambda d: d.isoformat()),
    datetime.date: ("date", lambda d: d.isoformat()),
    datetime.time: ("time", lambda d: d.isoformat()),
    datetime.timedelta: ("td", lambda d: [d.days, d.seconds, d.microseconds]),
}
_SIMPLE_DECODE: dict[str, Callable[[Any], Any]] = {
    "dec": decimal.Decimal,
    "frac": fractions.Fraction,
    "uuid": uuid.UUID,
    "cplx": lambda v: complex(v[0], v[1]),
    "datetime": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "time": datetime.time.fromisoformat,
    "td": lambda v: datetime.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
}
_BUILTIN_TAGS = frozenset(
    {"tuple", "map", "set", "bytes", "int", "float", "pickle", "del", *_SIMPLE_DECODE}
)

default_codec = Codec()


def register_codec(cls: type, tag: str, encode: Encoder, decode: Decoder) -> None:
    """Register a readable encoding for ``cls`` on the default codec."""
    default_codec.register(cls, tag, encode, decode)
