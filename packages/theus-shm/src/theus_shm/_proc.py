"""Process identity: PID + start time, so that a reused PID never passes for its dead owner.

Rules / theory of operation:
- A segment's header records its owner's PID, the owner's start time and the owner's PID
  namespace. The owner is alive iff a process with that PID exists, is not a zombie
  (state ``Z``/``X``: it can no longer touch memory) and, where the start time is known
  (Linux: field 22 of ``/proc/<pid>/stat``, clock ticks since boot), started at that time.
  A new process that reuses the PID has a later start time, so the segment is reclaimed.
- A header from another PID namespace (e.g. a container sharing ``/dev/shm``) names PIDs
  we cannot see: such an owner counts as alive (never reclaimed from here).
- Where ``/proc`` is missing (macOS), the start time is recorded as 0 and liveness falls
  back to ``kill(pid, 0)``.
- A process we may not inspect (``EPERM``) counts as alive: when in doubt, keep.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_self_cache: tuple[int, int, int] | None = None  # (pid, start, pidns) of this process


def _stat_fields(pid: int) -> tuple[str, int] | None:
    """(state, start time) of ``pid`` from /proc, or None if no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; split after the last ')'.
    rest = raw[raw.rindex(b")") + 2 :].split()
    # rest[0] is field 3 (state); field 22 (starttime) is rest[19].
    return rest[0].decode("ascii"), int(rest[19])


def _pidns() -> int:
    try:
        return (_PROC / "self" / "ns" / "pid").stat().st_ino
    except OSError:
        return 0


def identity() -> tuple[int, int, int]:
    """(pid, start time, pid namespace) of the calling process; recomputed after a fork."""
    global _self_cache
    pid = os.getpid()
    if _self_cache is None or _self_cache[0] != pid:
        fields = _stat_fields(pid) if _PROC.is_dir() else None
        _self_cache = (pid, fields[1] if fields else 0, _pidns())
    return _self_cache


def start_time(pid: int) -> int | None:
    """Start time of a live (non-zombie) process, 0 if unknown here, None if it is gone."""
    if _PROC.is_dir():
        fields = _stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X", "x"):
            return None
        return fields[1]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return 0
    return 0


class LivenessCache:
    """Answers "is this owner alive?" with one /proc read per PID per scan."""

    def __init__(self) -> None:
        self._pidns = identity()[2]
        self._starts: dict[int, int | None] = {}

    def alive(self, pid: int, start: int, pidns: int) -> bool:
        if pidns and self._pidns and pidns != self._pidns:
            return True  # another PID namespace: we cannot judge, so keep
        if pid <= 0:
            return False
        try:
            actual = self._starts[pid]
        except KeyError:
            try:
                actual = start_time(pid)
            except (OSError, ValueError, IndexError):
                actual = 0  # unreadable: when in doubt, keep
            self._starts[pid] = actual
        if actual is None:
            return False
        return actual == 0 or start == 0 or actual == start
