"""SafeSharedMemory: one theus segment, either owned (read-write) or borrowed (read-only).

Rules / theory of operation:
- Ownership is a property of the object that created the segment, in the process that
  created it. Only the owner unlinks; a borrower's ``unlink()`` raises ``NotOwnerError``
  (a ``PermissionError``); a forked child of the owner is a borrower too.
- A borrower opens the segment ``O_RDONLY`` and maps it ``PROT_READ``: the kernel refuses
  every write, whatever a caller does to numpy's flags. Borrowers never register with
  ``multiprocessing``'s resource tracker, so their exit never unlinks anything.
- The owner's segment lives until ``unlink()`` (``MemoryRegistry.release``/``close``), or
  until the owner object is garbage-collected (``__del__``) or its process exits normally
  (an ``atexit`` handler unlinks every name still in ``_owned``). A forked child starts
  with an empty ``_owned``: the parent owns those names. A crashed owner leaves its
  segments to the zombie collector.
- ``close()`` unmaps. Numpy arrays made from the mapping hold a buffer export on it, so
  while any of them (or a view of one) is alive the mapping stays, kept by this object,
  until they and it are gone: no array ever points at unmapped memory, and the address
  range is never reused while an array that refers to this segment could be asked whether
  its data lies in it.
- A segment seen mid-creation is not valid and is skipped by scanners: on Linux the file
  reaches its full size only after its header is written; elsewhere the header's magic is
  written last.
"""

from __future__ import annotations

import atexit
import logging
import mmap
import os
import random
import secrets
import sys
from typing import Any

import numpy as np

from . import _backend, _header, _names, _proc, _zombies
from .exceptions import (
    InvalidArgument,
    InvalidSegment,
    NotOwnerError,
    SegmentExists,
    ShmCapacityError,
    ShmClosed,
    ShmNotFound,
)

logger = logging.getLogger(__name__)


# 3.13+: the mapping need not keep a duplicate of the descriptor (one fd less per segment).
_MMAP_EXTRA: dict[str, Any] = {"trackfd": False} if sys.version_info >= (3, 13) else {}


def _map(fd: int, size: int, *, readonly: bool = False) -> mmap.mmap:
    prot = mmap.PROT_READ if readonly else mmap.PROT_READ | mmap.PROT_WRITE
    return mmap.mmap(fd, size, prot=prot, **_MMAP_EXTRA)


# Names this process created and has not unlinked yet, with the backend that made them.
_owned: dict[str, _backend.Backend] = {}
os.register_at_fork(after_in_child=_owned.clear)


def _unlink_owned(name: str) -> None:
    backend = _owned.pop(name, None)
    if backend is not None:
        try:
            backend.unlink(name)
        except FileNotFoundError:
            pass


@atexit.register
def _unlink_all_owned() -> None:
    for name in list(_owned):
        _unlink_owned(name)


class SafeSharedMemory:
    """A theus shared-memory segment.

    ``SafeSharedMemory(name)`` attaches to an existing segment as a read-only borrower;
    ``SafeSharedMemory(name, create=True, size=n)`` creates one of ``n`` bytes and owns it
    (``name=None`` picks a fresh name). ``.buf`` is a memoryview of the data (read-only for
    a borrower); ``.info`` is the header (shape, dtype, owner, ...).
    """

    _owner = False
    _unlinked = True

    def __init__(self, name: str | None = None, create: bool = False, size: int = 0) -> None:
        if create:
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise InvalidArgument("size", size, "must be a non-negative int")
            key = secrets.token_hex(8)
            if name is None:
                session = _names.new_session()
                name = _names.segment_name(session, os.getpid(), key)
            else:
                session = "raw"
            self._create(name, (size,), np.dtype(np.uint8), size, session=session, key=key)
        else:
            if name is None:
                raise InvalidArgument("name", name, "a borrower needs the segment's name")
            self._open(name)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        name: str,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        nbytes: int,
        *,
        session: str,
        key: str,
        owner: tuple[int, int, int] | None = None,
    ) -> SafeSharedMemory:
        """Create and own a segment holding an array of ``shape``/``dtype``.

        ``owner`` overrides the (pid, start time, pid namespace) recorded in the header; it
        exists for tests that simulate other owners (PID reuse), not for applications.
        """
        self = cls.__new__(cls)
        self._create(name, shape, dtype, nbytes, session=session, key=key, owner=owner)
        return self

    def _create(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        nbytes: int,
        *,
        session: str,
        key: str,
        owner: tuple[int, int, int] | None = None,
    ) -> None:
        name = _names.normalize(name)
        backend = _backend.backend()
        info, header = _header.build(
            name=name, shape=shape, dtype=dtype, nbytes=nbytes, owner=owner or _proc.identity(),
            nonce=random.getrandbits(64), session=session, key=key,
        )  # fmt: skip
        free = backend.room_for(info.size)
        if free is not None:
            raise ShmCapacityError(info.size, free, getattr(backend, "directory", "shared memory"))
        flags = os.O_CREAT | os.O_EXCL | os.O_RDWR
        try:
            fd = backend.open(name, flags, 0o600)
        except FileExistsError:
            # A dead owner with our PID (reused), session and key may have left it behind.
            if not _zombies.reclaim_if_zombie(name):
                raise SegmentExists(name) from None
            try:
                fd = backend.open(name, flags, 0o600)
            except FileExistsError:
                raise SegmentExists(name) from None
        try:
            if isinstance(backend, _backend.DevShmBackend):
                backend.publish(fd, header, info.size)
                mm = _map(fd, info.size)
            else:  # macOS cannot write() shared memory: through the mapping, magic last
                os.ftruncate(fd, info.size)
                mm = _map(fd, info.size)
                mm[8 : len(header)] = header[8:]
                mm[0:8] = header[:8]
        except BaseException:
            os.close(fd)
            try:
                backend.unlink(name)
            except FileNotFoundError:
                pass
            raise
        os.close(fd)
        _owned[name] = backend
        self._init(info, dtype, mm, owner=True)

    def _open(self, name: str) -> None:
        name = _names.normalize(name)
        backend = _backend.backend()
        try:
            fd = backend.open(name, os.O_RDONLY)
        except FileNotFoundError:
            raise ShmNotFound(name) from None
        mm: mmap.mmap | None = None
        try:
            size = os.fstat(fd).st_size
            if size < _header.MIN_SIZE:
                raise InvalidSegment(name, "too short for a header")
            if isinstance(backend, _backend.DevShmBackend):  # pread: no page fault
                dev = backend
                info = _header.read_info(name, lambda n: dev.read_head(fd, size, n), size)
                mm = _map(fd, size, readonly=True)
            else:  # macOS cannot read() shared memory: through the mapping
                mm = mapped = _map(fd, size, readonly=True)
                info = _header.read_info(name, lambda n: mapped[:n], size)
            dtype = _header.array_spec(info)[1]
        except BaseException:
            if mm is not None:
                mm.close()
            raise
        finally:
            os.close(fd)
        self._init(info, dtype, mm, owner=False)

    def _init(
        self, info: _header.SegmentInfo, dtype: np.dtype[Any], mm: mmap.mmap, *, owner: bool
    ) -> None:
        self._name = info.name
        self._info = info
        self._dtype = dtype
        self._mm = mm
        self._closed = False  # no new arrays or views from this object
        self._unmapped = False  # the mapping is gone (close found no live arrays on it)
        self._owner = owner
        self._creator_pid = os.getpid()
        self._unlinked = False
        self._data_addr = -1  # computed on first use

    # -- properties -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The segment name (no leading slash), enough for any process to attach."""
        return self._name

    @property
    def size(self) -> int:
        """Size of the data region in bytes (the header is not counted)."""
        return self._info.nbytes

    @property
    def info(self) -> _header.SegmentInfo:
        return self._info

    @property
    def is_owner(self) -> bool:
        return self._owner and os.getpid() == self._creator_pid

    @property
    def readonly(self) -> bool:
        return not self._owner

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def buf(self) -> memoryview:
        """The data region (read-only for a borrower). Each access returns a new view."""
        mm = self._mapping()
        return memoryview(mm)[self._info.header_len : self._info.header_len + self._info.nbytes]

    def _mapping(self) -> mmap.mmap:
        if self._closed:
            raise ShmClosed(f"segment {self._name!r} is closed")
        return self._mm

    def data_array(self) -> np.ndarray[Any, Any]:
        """A plain ndarray over the data with the recorded shape and dtype (no copy)."""
        count = self._info.nbytes // self._dtype.itemsize
        flat = np.frombuffer(
            self._mapping(), dtype=self._dtype, count=count, offset=self._info.header_len
        )
        shape = self._info.shape
        return flat if len(shape) == 1 else flat.reshape(shape)

    def flat_bytes(self) -> np.ndarray[Any, np.dtype[np.uint8]]:
        """The data region as a flat uint8 array (no copy)."""
        return np.frombuffer(
            self._mapping(), dtype=np.uint8, count=self._info.nbytes, offset=self._info.header_len
        )

    def contains(self, address: int, length: int) -> bool:
        """Whether ``[address, address + length)`` lies inside this segment's data region."""
        if self._unmapped:
            return False
        start = self.data_address
        return start <= address and address + length <= start + self._info.nbytes

    @property
    def data_address(self) -> int:
        """Address of the first data byte in this process's mapping."""
        if self._data_addr < 0:
            probe = np.frombuffer(self._mm, dtype=np.uint8, count=1)
            self._data_addr = int(probe.__array_interface__["data"][0]) + self._info.header_len
        return self._data_addr

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Unmap; deferred while arrays on the mapping are alive. Does not unlink."""
        self._closed = True
        if self._unmapped:
            return
        try:
            self._mm.close()
        except BufferError:
            # Live arrays hold buffer exports: the mapping stays (this object keeps it, so
            # its address range cannot be reused under them) until they and it are gone.
            logger.debug("segment %s: arrays still alive; unmapped when they die", self._name)
        else:
            self._unmapped = True

    def unlink(self) -> None:
        """Remove the segment's name (owner only). Existing mappings stay valid."""
        if not self.is_owner:
            raise NotOwnerError(self._name)
        if self._unlinked:
            return
        self._unlinked = True
        backend = _owned.pop(self._name, None) or _backend.backend()
        try:
            backend.unlink(self._name)
        except FileNotFoundError:
            logger.warning("segment %s was already removed by someone else", self._name)

    def __del__(self) -> None:
        try:
            if self._owner and not self._unlinked and os.getpid() == self._creator_pid:
                _unlink_owned(self._name)
        except Exception:  # noqa: BLE001 - never raise from a finalizer (shutdown)
            pass

    def __enter__(self) -> SafeSharedMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        return (SafeSharedMemory, (self._name,))

    def __repr__(self) -> str:
        role = "owner" if self.is_owner else "borrower"
        state = "closed" if self._closed else "open"
        return f"<SafeSharedMemory {self._name!r} {role} {self.size} bytes {state}>"
