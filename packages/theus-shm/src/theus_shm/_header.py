"""The self-describing header at the start of every theus segment.

Layout (little-endian), padded to a multiple of 64 bytes; the data follows, 64-byte aligned::

    0  8s  magic  b"THEUSHM1"
    8  H   header version (1)
   10  H   ndim
   12  I   header length = data offset (multiple of 64)
   16  Q   owner pid
   24  Q   owner start time (clock ticks since boot, Linux; 0 = unknown)
   32  Q   owner PID-namespace inode (0 = unknown)
   40  d   created (Unix time)
   48  Q   nonce (random: identifies this generation of the name)
   56  Q   data size in bytes
   64  H   dtype length, H session length, H key length, H reserved
   72  q * ndim shape, then the dtype descriptor, session and key (UTF-8)
"""

from __future__ import annotations

import ast
import functools
import struct
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .exceptions import InvalidArgument, InvalidSegment

MAGIC = b"THEUSHM1"
VERSION = 1
ALIGN = 64
READ_AHEAD = 4096  # one pread covers every ordinary header
MAX_NDIM = 64
_FIXED = struct.Struct("<8sHHIQQQdQQHHHH")
MIN_SIZE = _FIXED.size


class SegmentInfo(NamedTuple):
    """What a segment says about itself, plus (from a scan) whether its owner is alive.

    An immutable record (a named tuple: cheap to build, as it is on every attach).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    header_len: int
    owner_pid: int
    owner_start: int
    owner_pidns: int
    created: float
    nonce: int
    session: str
    key: str
    size: int = 0  # bytes the segment occupies (header + data, as the OS reports it)
    alive: bool | None = None  # owner alive? None when not checked

    @property
    def age(self) -> float:
        """Seconds since the segment was created."""
        return max(0.0, time.time() - self.created)


@functools.lru_cache(maxsize=MAX_NDIM + 1)
def _shape_struct(ndim: int) -> struct.Struct:
    return struct.Struct(f"<{ndim}q")


@functools.lru_cache(maxsize=256)
def dtype_descr(dtype: np.dtype[Any]) -> str:
    descr: object = np.lib.format.dtype_to_descr(dtype)
    return descr if isinstance(descr, str) else repr(descr)


def dtype_from_descr(descr: str) -> np.dtype[Any]:
    if descr[:1] in ("[", "("):
        return np.lib.format.descr_to_dtype(ast.literal_eval(descr))
    return np.dtype(descr)


@functools.lru_cache(maxsize=256, typed=True)
def _storable_dtype(dtype: Any) -> np.dtype[Any]:
    try:
        dt: np.dtype[Any] = np.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument("dtype", dtype, str(exc)) from exc
    if dt.hasobject:
        raise InvalidArgument("dtype", dtype, "object references cannot live in shared memory")
    if dt.itemsize == 0:
        raise InvalidArgument("dtype", dtype, "has no size")
    return dt


def check_array_spec(shape: object, dtype: object) -> tuple[tuple[int, ...], np.dtype[Any], int]:
    """Validate ``shape`` / ``dtype``; return them normalized with the size in bytes."""
    try:
        dt = _storable_dtype(dtype)
    except TypeError:  # unhashable (e.g. a dict spec): not cached
        dt = _storable_dtype.__wrapped__(dtype)
    dims: tuple[Any, ...] = (
        shape if isinstance(shape, tuple) else tuple(shape) if isinstance(shape, list) else (shape,)
    )
    if len(dims) > MAX_NDIM:
        raise InvalidArgument("shape", shape, f"more than {MAX_NDIM} dimensions")
    nbytes = dt.itemsize
    exact = True
    for d in dims:
        if type(d) is not int:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
                raise InvalidArgument("shape", shape, "must be non-negative integers")
            exact = False
        if d < 0:
            raise InvalidArgument("shape", shape, "must be non-negative integers")
        nbytes *= int(d)
    if nbytes >= 2**62:
        raise InvalidArgument("shape", shape, "too large")
    return (dims if exact else tuple(int(d) for d in dims)), dt, nbytes


@functools.lru_cache(maxsize=1024)
def _layout(
    shape: tuple[int, ...], dtype: np.dtype[Any], session: str, key: str
) -> tuple[bytes, int, str, tuple[int, int, int]]:
    """What follows the fixed part (padded), the header length, the dtype descriptor and the
    dtype / session / key byte lengths: the same for every segment of one array spec."""
    descr_s = dtype_descr(dtype)
    descr, sess, k = descr_s.encode("utf-8"), session.encode("utf-8"), key.encode("utf-8")
    body = _shape_struct(len(shape)).pack(*shape) + descr + sess + k
    header_len = -(-(_FIXED.size + len(body)) // ALIGN) * ALIGN
    return body.ljust(header_len - _FIXED.size, b"\x00"), header_len, descr_s, (
        len(descr), len(sess), len(k),
    )  # fmt: skip


def build(
    *,
    name: str,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    nbytes: int,
    owner: tuple[int, int, int],
    nonce: int,
    session: str,
    key: str,
    created: float | None = None,
) -> tuple[SegmentInfo, bytes]:
    """The header of a new segment, as a record and as bytes (magic included, padded to a
    multiple of :data:`ALIGN`)."""
    tail, header_len, descr_s, lengths = _layout(shape, dtype, session, key)
    pid, start, pidns = owner
    created = time.time() if created is None else created
    fixed = _FIXED.pack(
        MAGIC, VERSION, len(shape), header_len, pid, start, pidns, created, nonce, nbytes,
        *lengths, 0,
    )  # fmt: skip
    raw = fixed + tail
    info = SegmentInfo(
        name, shape, descr_s, nbytes, header_len, pid, start, pidns, created, nonce, session, key,
        header_len + nbytes,
    )  # fmt: skip
    return info, raw


def pack(**fields: Any) -> bytes:
    """The header bytes for ``build``'s keyword arguments (``name`` optional)."""
    fields.setdefault("name", "")
    return build(**fields)[1]


def parse(name: str, raw: bytes, size: int | None = None) -> SegmentInfo:
    """Decode a header read from the start of segment ``name`` (``size``: the segment's size).

    Raises :class:`InvalidSegment` for anything that is not a complete, consistent header.
    """
    if len(raw) < _FIXED.size:
        raise InvalidSegment(name, "too short for a header")
    (magic, version, ndim, header_len, pid, start, pidns, created, nonce, nbytes,
     dlen, slen, klen, _) = _FIXED.unpack_from(raw)  # fmt: skip
    if magic != MAGIC:
        raise InvalidSegment(name, "no theus magic (foreign or still being created)")
    if pid == 0:
        raise InvalidSegment(name, "no owner recorded")
    if version != VERSION:
        raise InvalidSegment(name, f"header version {version} is not supported")
    pos = _FIXED.size + 8 * ndim
    end = pos + dlen + slen + klen
    if header_len % ALIGN or header_len < end or ndim > MAX_NDIM:
        raise InvalidSegment(name, "inconsistent header layout")
    if len(raw) < end:
        raise InvalidSegment(name, "header truncated")
    if size is not None and header_len + nbytes > size:
        raise InvalidSegment(name, f"header claims {header_len + nbytes} bytes, segment has {size}")
    shape = _shape_struct(ndim).unpack_from(raw, _FIXED.size)
    try:
        descr = raw[pos : pos + dlen].decode("utf-8")
        session = raw[pos + dlen : pos + dlen + slen].decode("utf-8")
        key = raw[pos + dlen + slen : end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSegment(name, "undecodable text in header") from exc
    return SegmentInfo(
        name, shape, descr, nbytes, header_len, pid, start, pidns, created, nonce, session, key,
        size if size is not None else header_len + nbytes,
    )  # fmt: skip


@functools.lru_cache(maxsize=256)
def _stored_dtype(descr: str) -> np.dtype[Any]:
    dt = dtype_from_descr(descr)
    if dt.hasobject or dt.itemsize == 0:
        raise ValueError(f"dtype {descr!r} cannot live in shared memory")
    return dt


def array_spec(info: SegmentInfo) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype from a parsed header, checked against its data size."""
    try:
        dt = _stored_dtype(info.dtype)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise InvalidSegment(info.name, f"bad array description: {exc}") from exc
    nbytes = dt.itemsize
    for d in info.shape:
        if d < 0:
            raise InvalidSegment(info.name, "negative dimension")
        nbytes *= d
    if nbytes != info.nbytes:
        raise InvalidSegment(info.name, "shape and dtype do not match the data size")
    return info.shape, dt


def read_info(name: str, read: Callable[[int], bytes], size: int) -> SegmentInfo:
    """Parse the header of a segment of ``size`` bytes; ``read(n)`` returns its first n bytes."""
    if size < MIN_SIZE:
        raise InvalidSegment(name, "too short for a header")
    raw = read(READ_AHEAD)
    if len(raw) >= _FIXED.size:
        header_len = struct.unpack_from("<I", raw, 12)[0]
        if len(raw) < header_len <= size:
            raw = read(header_len)
    return parse(name, raw, size)


def with_liveness(info: SegmentInfo, alive: bool) -> SegmentInfo:
    return info._replace(alive=alive)
