from __future__ import annotations

import hashlib
import multiprocessing
import pickle

import numpy as np
import pytest
from shm_helpers import exists, read_checksum, run_py

from theus_shm import MemoryRegistry


def test_children_that_attach_and_exit_leave_the_segment(registry: MemoryRegistry) -> None:
    arr = registry.alloc("k", (1000,), "int64")
    arr[:] = 11
    name = arr.shm_name or ""
    normal = """
    import sys
    from theus_shm import attach, SafeSharedMemory
    arr = attach(sys.argv[1])
    seg = SafeSharedMemory(sys.argv[1])
    print(int(arr.sum()))
    """
    for _ in range(2):
        result = run_py(normal, name)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "11000"
        assert exists(name)
    killed = """
    import os, signal, sys
    from theus_shm import attach
    arr = attach(sys.argv[1])
    os.kill(os.getpid(), signal.SIGKILL)
    """
    assert run_py(killed, name).returncode == -9
    assert exists(name) and (arr == 11).all()


def test_spawned_pool_workers_borrow_and_leave_the_segment(registry: MemoryRegistry) -> None:
    """multiprocessing children run the stdlib resource tracker; it must not unlink ours."""
    arr = registry.alloc("k", (4096,), "uint8")
    arr[:] = 1
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(read_checksum, [arr, arr[10:], arr[::2]])
    assert all(r[1] and r[2] and r[3] for r in results)
    assert exists(arr.shm_name or "")


@pytest.mark.slow
def test_eight_workers_read_one_100mb_array_without_copies(registry: MemoryRegistry) -> None:
    n = 100 * 1000 * 1000 // 8
    arr = registry.alloc("big", (n,), "int64")
    arr[:] = np.arange(n, dtype=np.int64) * 2654435761 % (2**31)
    expected = hashlib.blake2b(memoryview(arr).cast("B")).hexdigest()
    assert len(pickle.dumps(arr)) < 512  # only the name crosses to the workers
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(8) as pool:
        results = pool.map(read_checksum, [arr] * 8, chunksize=1)
    digests, in_mapping, readonly, is_shm, pids = zip(*results, strict=True)
    assert set(digests) == {expected}
    assert all(in_mapping), "a worker's array was not a view of the /dev/shm mapping"
    assert all(readonly) and all(is_shm)
    assert len(set(pids)) > 1
    assert exists(arr.shm_name or "")
