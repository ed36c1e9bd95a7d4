"""theus-shm figures, each beside the plain ``multiprocessing.shared_memory`` figure measured
in the same run (``baseline.plain_shm.*``), plus the zombie scan over 1,000 segments.

    python benchmarks/bench_shm.py

- alloc_100mib: create + map a 100 MiB segment and get a numpy view (pages untouched);
  timed over batches of 20, per allocation.
- alloc_fill_100mib: the same, then write every byte (the pages are really allocated).
- attach_100mib: in another process, attach by name and get a numpy view (batches of 20).
- attach_read_100mib: in another process, attach and read every byte (sum).
- scan_zombies_1000_live / _dead: one scan over 1,000 segments whose owner is alive (all
  kept) / dead (all reclaimed).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np
from _timing import report, report_baseline, report_value

from theus_shm import MemoryRegistry, scan_zombies
from theus_shm._header import pack
from theus_shm._names import segment_name

SIZE = 100 * 1024 * 1024
ROUNDS = 15

CHILD = r"""
import json, statistics, sys, time
import numpy as np
from multiprocessing import resource_tracker, shared_memory
from theus_shm import attach

ours, plain, size, rounds, batch = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])

def attach_plain():
    if sys.version_info >= (3, 13):
        shm = shared_memory.SharedMemory(plain, track=False)
    else:  # 3.11/3.12: attaching registers; without this, our exit would unlink it
        shm = shared_memory.SharedMemory(plain)
        resource_tracker.unregister(shm._name, "shared_memory")
    return shm, np.ndarray((size,), np.uint8, buffer=shm.buf)

def attach_ours():
    return None, attach(ours)

def run(fn, read, n):
    times = []
    for _ in range(rounds + 1):
        t0 = time.perf_counter()
        got = [fn() for _ in range(n)]
        if read:
            for _, arr in got:
                arr.sum(dtype=np.uint64)
        times.append((time.perf_counter() - t0) / n)
        for shm, arr in got:
            del arr
            if shm is not None:
                shm.close()
        del got
    return statistics.median(times[1:])  # the first round starts the resource tracker

out = {}
for read in (False, True):
    # interleave, so that drift on a shared machine hits both alike
    for _ in range(2):
        out[f"plain{read}"] = run(attach_plain, read, 1 if read else batch)
        out[f"ours{read}"] = run(attach_ours, read, 1 if read else batch)
print(json.dumps(out))
"""


def per_op(make, drop, n: int) -> float:
    """Seconds per operation for one batch of ``n`` (cleanup not timed)."""
    t0 = time.perf_counter()
    objs = [make(i) for i in range(n)]
    elapsed = time.perf_counter() - t0
    for obj in objs:
        drop(obj)
    return elapsed / n


def plain_alloc(fill: bool):
    def make(i: int):
        shm = shared_memory.SharedMemory(create=True, size=SIZE)
        arr = np.ndarray((SIZE,), np.uint8, buffer=shm.buf)
        if fill:
            arr.fill(1)
        return shm, arr

    def drop(obj) -> None:
        shm, arr = obj
        del arr
        shm.close()
        shm.unlink()

    return make, drop


def ours_alloc(reg: MemoryRegistry, fill: bool):
    def make(i: int):
        arr = reg.alloc(f"bench{i}", (SIZE,), np.uint8)
        if fill:
            arr.fill(1)
        return i

    def drop(i: int) -> None:
        reg.release(f"bench{i}")

    return make, drop


def ratio(name: str, ours: float, plain: float) -> None:
    report(f"shm.{name}", ours, "ms")
    report(f"baseline.plain_shm.{name}", plain, "ms")
    report_value(f"shm.{name}.vs_plain", ours / plain, "x")


def bench_alloc(reg: MemoryRegistry) -> None:
    for fill, name, batch in ((False, "alloc_100mib", 20), (True, "alloc_fill_100mib", 1)):
        # warm up, then interleave ours and plain round by round
        plain_t, ours_t = [], []
        for r in range(ROUNDS + 2):
            p = per_op(*plain_alloc(fill), batch)
            o = per_op(*ours_alloc(reg, fill), batch)
            if r >= 2:
                plain_t.append(p)
                ours_t.append(o)
        ratio(name, statistics.median(ours_t), statistics.median(plain_t))


def bench_attach(reg: MemoryRegistry) -> None:
    ours = reg.alloc("attach", (SIZE,), np.uint8)
    ours.fill(3)
    plain = shared_memory.SharedMemory(create=True, size=SIZE)
    np.ndarray((SIZE,), np.uint8, buffer=plain.buf).fill(3)
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, ours.shm_name or "", plain.name, str(SIZE), "9", "20"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        res = json.loads(out.stdout)
    finally:
        plain.close()
        plain.unlink()
        del ours
        reg.release("attach")
    ratio("attach_100mib", res["oursFalse"], res["plainFalse"])
    ratio("attach_read_100mib", res["oursTrue"], res["plainTrue"])


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def bench_scan(reg: MemoryRegistry) -> None:
    for i in range(1000):
        reg.alloc(f"live{i}", (8,), np.float64)
    times = [0.0] * 7
    for r in range(len(times)):
        t0 = time.perf_counter()
        reclaimed = scan_zombies()
        times[r] = time.perf_counter() - t0
        assert reclaimed == [], reclaimed
    report("shm.scan_zombies_1000_live", statistics.median(times), "ms")
    for key in list(reg):
        reg.release(key)

    dead = _dead_pid()
    times = []
    for _ in range(5):
        for i in range(1000):  # what 1,000 SIGKILLed owners would leave behind
            header = pack(
                shape=(8,), dtype=np.dtype("<f8"), nbytes=64, owner=(dead, 1, 0),
                nonce=i, session=reg.session, key=f"dead{i}",
            )  # fmt: skip
            name = segment_name(reg.session, dead, f"dead{i}")
            Path("/dev/shm", name).write_bytes(header + bytes(64))
        t0 = time.perf_counter()
        reclaimed = scan_zombies(session=reg.session)
        times.append(time.perf_counter() - t0)
        assert len(reclaimed) == 1000, len(reclaimed)
    report("shm.scan_zombies_1000_dead", statistics.median(times), "ms")


def main() -> None:
    report_baseline()
    print(f"# python {sys.version.split()[0]}, pid {os.getpid()}", flush=True)
    with MemoryRegistry(session="bench") as reg:
        bench_alloc(reg)
        bench_attach(reg)
        bench_scan(reg)


if __name__ == "__main__":
    main()
