"""MemoryRegistry: named shared-memory arrays owned by one process, with a memory budget.

Rules / theory of operation:
- The registry owns the segments it allocates, one per key; names are derived from
  (session, this PID, key), so two live registries can only collide by using the same
  session and key in the same process (:class:`SegmentExists`).
- The budget counts the arrays' data bytes: an allocation that would exceed ``capacity``
  raises :class:`ShmCapacityError` before anything is created (also when ``/dev/shm``
  lacks the room: tmpfs pages are allocated lazily, and touching a page that cannot be
  backed kills the process with SIGBUS, so the check is made up front).
- ``release(key)`` and ``close()`` unlink (owner only) and unmap; the unmap waits for the
  last live array on the mapping. Segments left when the process exits normally are
  unlinked by their owners' finalizers; a crashed process leaves zombies, which the next
  registry on the machine reclaims when it starts (``collect_zombies=True``).
- Every method is thread-safe.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from . import _names, _plugins, _zombies
from ._array import ShmArray, array_of, attach
from ._header import check_array_spec
from ._segment import SafeSharedMemory
from .exceptions import (
    InvalidArgument,
    NotOwnerError,
    SegmentExists,
    ShmCapacityError,
    ShmClosed,
    ShmUnsupported,
    UnknownKey,
)

logger = logging.getLogger(__name__)
HEAP_ENV = "THEUS_HEAP_SIZE"
MiB = 1024 * 1024


def capacity_from_env() -> int | None:
    """``THEUS_HEAP_SIZE`` (MiB, may be fractional) in bytes; None when unset or empty."""
    raw = os.environ.get(HEAP_ENV, "").strip()
    if not raw:
        return None
    try:
        mib = float(raw)
    except ValueError:
        mib = -1.0
    if not mib >= 0 or mib == float("inf"):
        raise InvalidArgument(HEAP_ENV, raw, "must be a non-negative number of MiB")
    return int(mib * MiB)


class MemoryRegistry:
    """Allocates, lends and reclaims shared-memory numpy arrays.

    ``session``: groups this registry's segments (random when None). ``capacity``: data
    bytes the registry may hold at once (default: env ``THEUS_HEAP_SIZE`` in MiB, else
    unlimited). ``plugins``: pluggy plugins for the ``theus_shm`` hooks.
    ``collect_zombies``: reclaim dead owners' segments at start-up (``.reclaimed`` lists them).
    """

    def __init__(
        self,
        session: str | None = None,
        capacity: int | None = None,
        *,
        plugins: Iterable[object] = (),
        collect_zombies: bool = True,
    ) -> None:
        if session is None:
            session = _names.new_session()
        self.session: str = _names.check_text("session", session, _names.MAX_SESSION_BYTES)
        if capacity is None:
            capacity = capacity_from_env()
        elif isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise InvalidArgument("capacity", capacity, "must be a non-negative int (bytes)")
        self.capacity: int | None = capacity
        self.plugin_manager = _plugins.make_plugin_manager(plugins)
        self._call_hooks = _plugins.tracing_requested()  # traced calls must happen
        self._segments: dict[str, SafeSharedMemory] = {}
        self._used = 0
        self._closed = False
        self._lock = threading.RLock()
        self.reclaimed: list[str] = []
        if collect_zombies:
            try:
                self.reclaimed = _zombies.scan_zombies(plugin_manager=self.plugin_manager)
            except ShmUnsupported:
                logger.debug("zombie collection is not available on this platform")
            except OSError as exc:
                logger.warning("zombie collection at start-up failed: %s", exc)

    # -- allocation -----------------------------------------------------------------------
    def alloc(self, key: str, shape: int | Iterable[int], dtype: Any = "float64") -> ShmArray:
        """A new zero-filled shared array owned by this registry under ``key``."""
        key = _names.check_text("key", key, _names.MAX_KEY_BYTES)
        shape_t, dt, nbytes = check_array_spec(shape, dtype)
        with self._lock:
            if self._closed:
                raise ShmClosed(f"registry of session {self.session!r} is closed")
            existing = self._segments.get(key)
            if existing is not None:
                raise SegmentExists(existing.name, key)
            if self.capacity is not None and self._used + nbytes > self.capacity:
                raise ShmCapacityError(
                    nbytes, self.capacity - self._used, "registry",
                    capacity=self.capacity, used=self._used,
                )  # fmt: skip
            name = _names.segment_name(self.session, os.getpid(), key)
            try:
                seg = SafeSharedMemory.create(
                    name, shape_t, dt, nbytes, session=self.session, key=key
                )
            except SegmentExists:
                raise SegmentExists(name, key) from None
            self._segments[key] = seg
            self._used += nbytes
        arr = array_of(seg)
        hook = self.plugin_manager.hook.theus_shm_alloc
        if self._call_hooks or hook.get_hookimpls():  # skip the machinery if nobody listens
            hook(
                registry=self,
                key=key,
                name=name,
                shape=shape_t,
                dtype=seg.info.dtype,
                nbytes=nbytes,
            )
        return arr

    def attach(self, name: str) -> ShmArray:
        """A read-only borrower view of segment ``name`` (any owner, any process)."""
        return attach(name)

    def get(self, key: str) -> ShmArray:
        """The whole owner array of ``key`` (a new view of the same memory)."""
        with self._lock:
            try:
                seg = self._segments[key]
            except KeyError:
                raise UnknownKey(key) from None
        return array_of(seg)

    # -- release --------------------------------------------------------------------------
    def release(self, key: str) -> None:
        """Unlink and unmap the segment of ``key``; live arrays on it stay readable."""
        with self._lock:
            seg = self._segments.get(key)
            if seg is None:
                raise UnknownKey(key)
            if not seg.is_owner:
                raise NotOwnerError(seg.name)  # e.g. in a forked child
            del self._segments[key]
            self._used -= seg.size
        self._drop(key, seg)

    def close(self) -> None:
        """Release every segment this registry owns; idempotent. Allocation stops."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            items = list(self._segments.items())
            self._segments.clear()
            self._used = 0
        error: BaseException | None = None
        for key, seg in items:
            if not seg.is_owner:
                continue  # a forked child: the parent owns these
            try:
                self._drop(key, seg)
            except Exception as exc:  # noqa: BLE001 - a plugin's error: release the rest first
                error = error or exc
        if error is not None:
            raise error

    def _drop(self, key: str, seg: SafeSharedMemory) -> None:
        seg.unlink()
        seg.close()
        hook = self.plugin_manager.hook.theus_shm_release
        if self._call_hooks or hook.get_hookimpls():
            hook(registry=self, key=key, name=seg.name, nbytes=seg.size)

    # -- introspection --------------------------------------------------------------------
    @property
    def used(self) -> int:
        """Data bytes currently allocated by this registry."""
        return self._used

    @property
    def closed(self) -> bool:
        return self._closed

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._segments)

    def __contains__(self, key: object) -> bool:
        return key in self._segments

    def __len__(self) -> int:
        return len(self._segments)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __enter__(self) -> MemoryRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        cap = "unlimited" if self.capacity is None else f"{self.capacity} bytes"
        return (
            f"<MemoryRegistry session={self.session!r} segments={len(self._segments)} "
            f"used={self._used} capacity={cap}{' closed' if self._closed else ''}>"
        )
