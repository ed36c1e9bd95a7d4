"""theus-shm: managed POSIX shared memory for numpy arrays.

Owners write, borrowers are read-only at the OS level, pickling is O(1), and segments of
crashed owners are reclaimed by a PID-reuse-safe zombie collector.
"""

from ._array import ShmArray, attach
from ._cli import build_parser, cli_main
from ._header import SegmentInfo
from ._names import segment_name
from ._plugins import make_plugin_manager
from ._registry import HEAP_ENV, MemoryRegistry
from ._segment import SafeSharedMemory
from ._version import __version__
from ._zombies import list_segments, scan_zombies
from .exceptions import (
    InvalidArgument,
    InvalidName,
    InvalidSegment,
    NotOwnerError,
    SegmentExists,
    ShmCapacityError,
    ShmClosed,
    ShmError,
    ShmNotFound,
    ShmUnsupported,
    UnknownKey,
)
from .hookspecs import hookimpl

__all__ = [
    "HEAP_ENV",
    "InvalidArgument",
    "InvalidName",
    "InvalidSegment",
    "MemoryRegistry",
    "NotOwnerError",
    "SafeSharedMemory",
    "SegmentExists",
    "SegmentInfo",
    "ShmArray",
    "ShmCapacityError",
    "ShmClosed",
    "ShmError",
    "ShmNotFound",
    "ShmUnsupported",
    "UnknownKey",
    "__version__",
    "attach",
    "build_parser",
    "cli_main",
    "hookimpl",
    "list_segments",
    "make_plugin_manager",
    "scan_zombies",
    "segment_name",
]
