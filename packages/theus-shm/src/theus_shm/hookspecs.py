"""Pluggy hook specifications of theus-shm (project name ``theus_shm``).

Hooks are always called with keyword arguments. (Pluggy ignores keyword-only parameters
when matching hook arguments, so the specs use ordinary ones.) An implementation may take
any subset of the arguments. Exceptions raised by an implementation propagate to the
caller, after the operation itself has completed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._header import SegmentInfo
    from ._registry import MemoryRegistry

hookspec = pluggy.HookspecMarker("theus_shm")
hookimpl = pluggy.HookimplMarker("theus_shm")


@hookspec
def theus_shm_alloc(
    registry: MemoryRegistry,
    key: str,
    name: str,
    shape: tuple[int, ...],
    dtype: str,
    nbytes: int,
) -> None:
    """Fires after ``registry.alloc`` created and mapped segment ``name`` for ``key``.

    ``dtype`` is the numpy dtype string (``"<f8"``); ``nbytes`` the data size in bytes.
    """


@hookspec
def theus_shm_release(registry: MemoryRegistry, key: str, name: str, nbytes: int) -> None:
    """Fires after the owner unlinked the segment of ``key`` (``release`` or ``close``)."""


@hookspec
def theus_shm_zombie_reclaimed(segment: SegmentInfo) -> None:
    """Fires after the zombie collector unlinked ``segment``, whose owner process is dead.

    ``segment`` carries the header: ``name``, ``owner_pid``, ``session``, ``key``, ``size``...
    """
