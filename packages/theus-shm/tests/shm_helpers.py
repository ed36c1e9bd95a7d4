"""Helpers shared by theus-shm's tests (and, being importable, by their child processes)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from theus_shm._header import pack
from theus_shm._names import segment_name, session_prefix
from theus_shm._proc import LivenessCache, identity

SHM = Path("/dev/shm")
unreaped: list[subprocess.Popen[str]] = []  # killed children the fixture reaps


def session_segments(session: str) -> list[str]:
    prefix = session_prefix(session)
    return sorted(n for n in os.listdir(SHM) if n.startswith(prefix))


def exists(name: str) -> bool:
    return (SHM / name).exists()


def dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def forge_segment(
    session: str,
    key: str,
    *,
    owner: tuple[int, int, int],
    shape: tuple[int, ...] = (8,),
    dtype: str = "<i8",
    name: str | None = None,
) -> str:
    """Write a theus segment whose header names ``owner`` (pid, start time, pid namespace),
    as a process with that identity would have; returns its name. No object owns it."""
    dt = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dt.itemsize
    header = pack(
        shape=shape, dtype=dt, nbytes=nbytes, owner=owner, nonce=int.from_bytes(os.urandom(8)),
        session=session, key=key,
    )  # fmt: skip
    name = name or segment_name(session, owner[0], key)
    fd = os.open(SHM / name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.write(fd, header + bytes(nbytes))
    finally:
        os.close(fd)
    return name


def me() -> tuple[int, int, int]:
    return identity()


def pretend_this_process_dead(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process's own scans judge this process dead (every other owner is judged
    as usual). Segments forged with ``owner=me()`` are then zombies to this test only: a
    collector running elsewhere on the machine sees a live owner and leaves them alone,
    which makes exact assertions about them safe."""
    real = LivenessCache.alive
    pid = me()[0]

    def alive(self: LivenessCache, owner_pid: int, start: int, pidns: int) -> bool:
        return owner_pid != pid and real(self, owner_pid, start, pidns)

    monkeypatch.setattr(LivenessCache, "alive", alive)


def run_py(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


OWNER_SCRIPT = """
import sys
from theus_shm import MemoryRegistry
reg = MemoryRegistry(session=sys.argv[1], collect_zombies=False)
arr = reg.alloc(sys.argv[2], (1000,), "int64")
arr[:] = 7
print(arr.shm_name, flush=True)
sys.stdin.read()  # wait to be killed
"""


def start_owner(session: str, key: str) -> tuple[subprocess.Popen[str], str]:
    """A child process that allocates ``key`` and waits; returns it and the segment name."""
    proc = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, session, key],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    name = proc.stdout.readline().strip()
    assert name, "owner child did not start"
    return proc, name


def sigkilled_owner(session: str, key: str, *, reap: bool = True) -> str:
    """Allocate in a child, SIGKILL it (no cleanup can run), return the segment's name."""
    proc, name = start_owner(session, key)
    proc.kill()
    if reap:
        proc.wait()
        proc.stdin.close()  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]
    else:  # wait for its death but leave it unreaped: a zombie process (state Z)
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        unreaped.append(proc)
    return name  # (a collector elsewhere on the machine may already have reclaimed it)


def reclaimed_by(scan: Callable[[], object], make_zombie: Callable[[int], str]) -> str:
    """Make a zombie, run ``scan`` and check it reclaimed it; returns the zombie's name.

    ``scan`` returns the reclaimed names (or text listing them). A registry starting in
    another test process on this machine may reclaim the zombie first (it is dead, after
    all): the zombie is then gone but not in our result, and the scenario is repeated.
    """
    for attempt in range(5):
        name = make_zombie(attempt)
        result = scan()
        if name in result:  # type: ignore[operator]
            assert not exists(name)
            return name
        assert not exists(name), f"zombie {name} survived the scan"
    pytest.fail("a concurrent collector reclaimed the zombie five times in a row")


def read_checksum(arr: np.ndarray) -> tuple[str, bool, bool, bool, int]:
    """Worker: (BLAKE2b of the data, data lies in a /dev/shm mapping of this process,
    read-only, type name is ShmArray, pid). Runs in spawned worker processes."""
    digest = hashlib.blake2b(memoryview(np.ascontiguousarray(arr)).cast("B")).hexdigest()
    addr = arr.__array_interface__["data"][0]
    in_mapping = False
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if lo <= addr and addr + arr.nbytes <= hi:
                in_mapping = len(fields) >= 6 and fields[5] == f"/dev/shm/{arr.shm_name}"
                break
    return (
        digest,
        in_mapping,
        not arr.flags.writeable,
        type(arr).__name__ == "ShmArray",
        os.getpid(),
    )


def collect_session(session: str) -> list[str]:
    """Worker: one zombie scan of ``session``."""
    from theus_shm import scan_zombies

    return scan_zombies(session=session)
