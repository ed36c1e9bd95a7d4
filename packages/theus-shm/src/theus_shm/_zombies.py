"""Listing segments and collecting zombies (segments whose owner process is dead).

Rules / theory of operation:
- Only names with the theus prefix whose header is complete and valid are considered;
  anything else in ``/dev/shm`` is never touched.
- A segment is a zombie iff its owner is dead per :class:`LivenessCache` (PID + start
  time + PID namespace: a reused PID does not keep a zombie alive, and never makes a live
  owner look dead). One ``/proc`` read per distinct PID per scan; one ``pread`` per header.
- Reclaiming must never remove a live segment, even when the dead owner's PID was reused
  and the new process created a segment of the same name between our read and our unlink.
  So a zombie is first renamed (atomically) to a private reap name; the header found under
  that name is compared with the one judged dead (nonce); if it differs, the segment is
  linked back under its name (``link`` never overwrites) before the reap name is removed.
  Two collectors racing on one zombie: the rename succeeds for exactly one of them.
- A reap name left by a collector that crashed mid-way is reclaimed by a later scan when
  its owner is dead and it was renamed more than ``REAP_GRACE`` seconds ago (a younger one
  belongs to a collector at work).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import time

import pluggy

from . import _backend, _header, _names, _plugins
from ._header import SegmentInfo
from ._proc import LivenessCache
from .exceptions import InvalidSegment

logger = logging.getLogger(__name__)
REAP_PREFIX = ".threap_"
REAP_GRACE = 60.0  # seconds before another collector may take over a reap name


def read_segment(backend: _backend.DevShmBackend, name: str) -> SegmentInfo | None:
    """The header of segment ``name``, or None if it is gone, foreign or incomplete."""
    try:
        fd = backend.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:  # vanished, not ours to read, a symlink...
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        size = st.st_size
        return _header.read_info(name, lambda n: backend.read_head(fd, size, n), size)
    except (InvalidSegment, OSError):
        return None
    finally:
        os.close(fd)


def list_segments(session: str | None = None) -> list[SegmentInfo]:
    """Every theus segment on this machine (of ``session`` only, if given), oldest first,
    each with ``alive`` telling whether its owner process is still running."""
    return _scan(session, include_reaps=False)


def _scan(session: str | None, *, include_reaps: bool) -> list[SegmentInfo]:
    backend = _backend.listing_backend()
    prefix = _names.PREFIX if session is None else _names.session_prefix(session)
    prefixes = (prefix, REAP_PREFIX) if include_reaps else (prefix,)
    liveness = LivenessCache()
    out: list[SegmentInfo] = []
    for name in backend.names(prefixes):
        if name.startswith(REAP_PREFIX) and not _abandoned(backend, name):
            continue  # another collector is reclaiming it right now
        info = read_segment(backend, name)
        if info is None or (session is not None and info.session != session):
            continue
        alive = liveness.alive(info.owner_pid, info.owner_start, info.owner_pidns)
        out.append(_header.with_liveness(info, alive))
    out.sort(key=lambda i: (i.created, i.name))
    return out


def _abandoned(backend: _backend.DevShmBackend, reap: str) -> bool:
    """A reap name renamed (ctime) longer than REAP_GRACE ago: its collector died."""
    try:
        changed = backend.stat(reap).st_ctime
    except OSError:
        return False
    return time.time() - changed > REAP_GRACE


def reclaim(backend: _backend.DevShmBackend, info: SegmentInfo) -> bool:
    """Unlink the zombie described by ``info`` unless its name now holds another segment."""
    if info.name.startswith(REAP_PREFIX):  # left by a collector that died mid-way
        return _unlink_quietly(backend, info.name)
    reap = REAP_PREFIX + secrets.token_hex(6)
    try:
        backend.rename(info.name, reap)
    except FileNotFoundError:
        return False  # another collector got it first
    current = read_segment(backend, reap)
    if current is not None and current.nonce != info.nonce:
        # A live newcomer took the name after we judged the old segment: give it back.
        try:
            backend.link(reap, info.name)
        except FileExistsError:
            logger.error("segment %s kept under %s: its name was taken again", info.name, reap)
            return False
        _unlink_quietly(backend, reap)
        return False
    return _unlink_quietly(backend, reap)


def _unlink_quietly(backend: _backend.DevShmBackend, name: str) -> bool:
    try:
        backend.unlink(name)
    except FileNotFoundError:
        return False
    return True


def reclaim_if_zombie(name: str) -> bool:
    """Reclaim segment ``name`` if it is a zombie (used when a new owner finds its name
    taken: the dead owner had the same PID, session and key)."""
    backend = _backend.BACKEND
    if not isinstance(backend, _backend.DevShmBackend):
        return False
    info = read_segment(backend, name)
    if info is None or LivenessCache().alive(info.owner_pid, info.owner_start, info.owner_pidns):
        return False
    return reclaim(backend, info)


def scan_zombies(
    *,
    session: str | None = None,
    dry_run: bool = False,
    plugin_manager: pluggy.PluginManager | None = None,
) -> list[str]:
    """Unlink every theus segment whose owner process is dead; return their names.

    ``session`` limits the scan to one session; ``dry_run`` only reports. Fires the
    ``theus_shm_zombie_reclaimed`` hook per reclaimed segment (on ``plugin_manager``, else
    on the default manager with the installed entry-point plugins). Linux only
    (:class:`ShmUnsupported` elsewhere).
    """
    backend = _backend.listing_backend()
    reclaimed: list[str] = []
    pm = plugin_manager
    for info in _scan(session, include_reaps=True):
        if info.alive:
            continue
        if dry_run:
            reclaimed.append(info.name)
            continue
        if not reclaim(backend, info):
            continue
        logger.info("reclaimed zombie segment %s (owner pid %d dead)", info.name, info.owner_pid)
        reclaimed.append(info.name)
        if pm is None:
            pm = _plugins.default_plugin_manager()
        pm.hook.theus_shm_zombie_reclaimed(segment=info)
    return reclaimed
