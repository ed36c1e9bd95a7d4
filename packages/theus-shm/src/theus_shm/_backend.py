"""Where segments live: ``/dev/shm`` files on Linux, ``shm_open`` elsewhere on POSIX.

- :class:`DevShmBackend` (Linux): segments are files in ``/dev/shm`` opened with
  ``os.open``. They can be listed, and headers are read and written with ``pread`` /
  ``pwrite`` (no page fault in our mapping, so attaching costs what the stdlib's does);
  ``ls`` / ``gc`` / ``scan_zombies`` need this backend.
- :class:`PosixShmBackend` (macOS and other POSIX): ``_posixshmem.shm_open`` /
  ``shm_unlink``, the calls under ``multiprocessing.shared_memory``. The OS offers no way
  to enumerate segments there, so listing raises :class:`ShmUnsupported`; ``read`` and
  ``write`` fail on a shared-memory descriptor on macOS, so headers go through the mapping.

Paths are plain strings on purpose: these calls are on the alloc / attach path.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from .exceptions import ShmUnsupported

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class DevShmBackend:
    def __init__(self, directory: str = "/dev/shm") -> None:
        self.directory = directory
        self._prefix = directory.rstrip("/") + "/"
        self._free = 0  # free bytes at the last statvfs, less what was allocated since
        self._free_at = float("-inf")

    def open(self, name: str, flags: int, mode: int = 0o600) -> int:
        return os.open(self._prefix + name, flags | _CLOEXEC, mode)

    def unlink(self, name: str) -> None:
        os.unlink(self._prefix + name)  # noqa: PTH108

    def rename(self, old: str, new: str) -> None:
        os.rename(self._prefix + old, self._prefix + new)  # noqa: PTH104

    def link(self, old: str, new: str) -> None:
        os.link(self._prefix + old, self._prefix + new)

    def stat(self, name: str) -> os.stat_result:
        return os.lstat(self._prefix + name)

    def names(self, prefixes: tuple[str, ...]) -> Iterator[str]:
        with os.scandir(self.directory) as it:
            for entry in it:
                if entry.name.startswith(prefixes):
                    yield entry.name

    def free_bytes(self) -> int | None:
        st = os.statvfs(self.directory)
        return st.f_bavail * st.f_frsize

    def room_for(self, nbytes: int) -> int | None:
        """None if ``nbytes`` more fit in the filesystem, else the free bytes.

        tmpfs backs pages lazily, and a page it cannot back kills the toucher with SIGBUS:
        hence the check before every allocation. A statvfs costs a microsecond, a lot next
        to an allocation, so a reading younger than 50 ms is reused (less what was
        allocated since) while the request is at most a quarter of it; a request near the
        limit always reads anew.
        """
        now = time.monotonic()
        free = self._free
        if nbytes * 4 > free or now - self._free_at > 0.05:
            free = self.free_bytes() or 0
            self._free_at = now
        if nbytes > free:
            self._free_at = float("-inf")
            return free
        self._free = free - nbytes
        return None

    @staticmethod
    def read_head(fd: int, size: int, length: int) -> bytes:
        return os.pread(fd, min(length, size), 0)

    @staticmethod
    def publish(fd: int, header: bytes, size: int) -> None:
        """Write the header, then give the file its full size.

        The file grows to the header's length only once the header is copied, and to the
        length the header claims only after that: a scanner reading it meanwhile finds it
        empty, or shorter than its header says, and skips it as incomplete.
        """
        os.pwrite(fd, header, 0)
        os.ftruncate(fd, size)


class PosixShmBackend:
    def __init__(self) -> None:
        # The private stdlib module under multiprocessing.shared_memory (POSIX only).
        self._shm: Any = importlib.import_module("_posixshmem")

    def open(self, name: str, flags: int, mode: int = 0o600) -> int:
        fd: int = self._shm.shm_open("/" + name, flags, mode)
        os.set_inheritable(fd, False)
        return fd

    def unlink(self, name: str) -> None:
        self._shm.shm_unlink("/" + name)

    def free_bytes(self) -> int | None:
        return None

    def room_for(self, nbytes: int) -> int | None:
        return None  # no portable way to ask (macOS backs shared memory with swap)


Backend = DevShmBackend | PosixShmBackend


def _default() -> Backend | None:
    if sys.platform.startswith("linux") and os.path.isdir("/dev/shm"):  # noqa: PTH112
        return DevShmBackend()
    if os.name == "posix":
        try:
            return PosixShmBackend()
        except ImportError:
            return None
    return None


BACKEND: Backend | None = _default()


def backend() -> Backend:
    if BACKEND is None:
        raise ShmUnsupported(f"POSIX shared memory is not available on {sys.platform}")
    return BACKEND


def listing_backend() -> DevShmBackend:
    """The backend, if it can enumerate segments (what ls / gc / scan_zombies need)."""
    b = backend()
    if not isinstance(b, DevShmBackend):
        raise ShmUnsupported(
            f"listing shared-memory segments is not possible on {sys.platform}: "
            "ls, gc and scan_zombies need Linux (/dev/shm)"
        )
    return b
