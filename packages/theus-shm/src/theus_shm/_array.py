"""ShmArray: a numpy array whose data lives in a theus segment, and its O(1) pickling.

Rules / theory of operation:
- An ``ShmArray`` keeps a reference to its :class:`SafeSharedMemory`; views and slices
  inherit it (``__array_finalize__``), and numpy's buffer export keeps the mapping itself
  alive, so a release or close never unmaps memory under a live view.
- Whether an array is *backed* by its segment is decided from its data pointer: a view or
  slice lies inside the segment's data region; a copy or a ufunc result does not, and
  behaves (and pickles) as a plain ndarray (ufunc results are plain ndarrays, as with
  ``np.memmap``).
- Pickling a backed array sends ``(name, nonce, shape, dtype, offset, strides)``: O(1) in the
  array's size. Unpickling attaches to the segment as a read-only borrower (one mapping per
  segment per process, shared by every array unpickled from it) and rebuilds the same view.
  The nonce identifies the segment's generation: a name that was released and reused by a
  new segment is refused instead of silently showing other data.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from ._segment import SafeSharedMemory
from .exceptions import InvalidSegment

_borrowed: weakref.WeakValueDictionary[tuple[str, int], SafeSharedMemory] = (
    weakref.WeakValueDictionary()
)
_borrowed_lock = threading.Lock()


def _extent(arr: np.ndarray[Any, Any]) -> tuple[int, int, int]:
    """(address of element 0, lowest byte address, one past the highest byte address)."""
    addr: int = arr.__array_interface__["data"][0]
    if arr.size == 0:
        return addr, addr, addr
    lo = hi = addr
    for n, s in zip(arr.shape, arr.strides, strict=True):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return addr, lo, hi + arr.itemsize


class ShmArray(np.ndarray[Any, np.dtype[Any]]):
    """A numpy ndarray over shared memory (see :class:`MemoryRegistry`).

    ``.shm_name`` names the segment (None for a copy that is no longer backed by it),
    ``.shm_offset`` is the byte offset of element 0 in the segment's data, ``.is_owner``
    tells an owner's writable array from a borrower's read-only one.
    """

    _shm_segment: SafeSharedMemory | None = None

    def __array_finalize__(self, obj: object) -> None:
        self._shm_segment = getattr(obj, "_shm_segment", None)

    def __array_wrap__(
        self, arr: np.ndarray[Any, Any], context: Any = None, return_scalar: bool = False
    ) -> Any:
        arr = super().__array_wrap__(arr, context)
        if arr is self or (isinstance(arr, ShmArray) and arr.segment is not None):
            return arr  # an in-place result that lives in shared memory
        plain = arr.view(np.ndarray)
        return plain[()] if return_scalar else plain

    @property
    def segment(self) -> SafeSharedMemory | None:
        """The segment this array's data lies in, or None (a copy, a ufunc result)."""
        seg = self._shm_segment
        if seg is None:
            return None
        _, lo, hi = _extent(self)
        return seg if seg.contains(lo, hi - lo) else None

    @property
    def shm_name(self) -> str | None:
        seg = self.segment
        return None if seg is None else seg.name

    @property
    def shm_offset(self) -> int | None:
        seg = self.segment
        return None if seg is None else _extent(self)[0] - seg.data_address

    @property
    def is_owner(self) -> bool:
        seg = self.segment
        return seg is not None and seg.is_owner

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__reduce_ex__(2)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        seg = self.segment
        if seg is None:  # not (or no longer) shared: pickle the data like any ndarray
            plain: tuple[Any, ...] = self.view(np.ndarray).__reduce_ex__(protocol)  # type: ignore[assignment]
            return plain
        dt = self.dtype
        dtype_token: object = dt.str if np.dtype(dt.str) == dt else dt
        strides = None if self.flags.c_contiguous else tuple(self.strides)
        offset = _extent(self)[0] - seg.data_address
        return (_rebuild, (seg.name, seg.info.nonce, self.shape, dtype_token, offset, strides))


def array_of(seg: SafeSharedMemory) -> ShmArray:
    """The whole data of ``seg`` as an ShmArray with the recorded shape and dtype."""
    arr = seg.data_array().view(ShmArray)
    arr._shm_segment = seg
    return arr


def _borrow(name: str, nonce: int) -> SafeSharedMemory:
    with _borrowed_lock:
        seg = _borrowed.get((name, nonce))
        if seg is not None and not seg.closed:
            return seg
        seg = SafeSharedMemory(name)
        if seg.info.nonce != nonce:
            seg.close()
            raise InvalidSegment(name, "the segment was released and its name reused")
        _borrowed[(name, nonce)] = seg
        return seg


def attach(name: str) -> ShmArray:
    """Attach to segment ``name`` as a read-only borrower; shape and dtype come from it.

    Each call maps the segment anew (it may have been replaced under the same name);
    unpickling shares one mapping per segment generation instead."""
    return array_of(SafeSharedMemory(name))


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    out: list[int] = []
    acc = itemsize
    for n in reversed(shape):
        out.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(out))


def _rebuild(
    name: str,
    nonce: int,
    shape: tuple[int, ...],
    dtype: Any,
    offset: int,
    strides: tuple[int, ...] | None,
) -> ShmArray:
    """Unpickle: the same view of the same segment, borrowed read-only."""
    seg = _borrow(name, nonce)
    dt = np.dtype(dtype)
    flat = seg.flat_bytes()  # holds a buffer export: the mapping outlives every view
    if 0 in shape:
        view = flat[:0].view(dt).reshape(shape)
    else:
        if strides is None:
            strides = _c_strides(shape, dt.itemsize)
        lo = offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True) if s < 0)
        hi = offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True) if s > 0)
        if lo < 0 or offset < 0 or hi + dt.itemsize > flat.size:
            raise InvalidSegment(name, "pickled view does not fit in the segment")
        first = flat[offset : offset + dt.itemsize].view(dt)
        view = np.lib.stride_tricks.as_strided(first, shape=shape, strides=strides)
    out: ShmArray = view.view(ShmArray)
    out._shm_segment = seg
    return out
