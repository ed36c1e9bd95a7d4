"""Borrowers are read-only at the OS level: numpy refuses, and the kernel refuses too."""

from __future__ import annotations

import signal

import numpy as np
import pytest
from shm_helpers import run_py

from theus_shm import MemoryRegistry


def test_borrower_writes_fail(registry: MemoryRegistry) -> None:
    owner = registry.alloc("k", (16,), "int64")
    owner[:] = 3
    arr = registry.attach(owner.shm_name or "")
    with pytest.raises(ValueError, match="read-only"):
        arr[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        arr[2:4] += 1
    with pytest.raises(ValueError):
        np.copyto(arr, 0)
    with pytest.raises(ValueError, match="WRITEABLE"):
        arr.flags.writeable = True
    with pytest.raises(ValueError):
        arr.setflags(write=True)
    view = arr[::2]
    with pytest.raises(ValueError):
        view[0] = 1
    with pytest.raises(ValueError):
        view.flags.writeable = True
    seg = arr.segment
    assert seg is not None
    with pytest.raises(TypeError):
        seg.buf[0] = 1
    assert (owner == 3).all()


def test_the_kernel_refuses_writes_that_bypass_numpy(registry: MemoryRegistry) -> None:
    """Writing through a raw pointer into a borrower's mapping faults (SIGSEGV)."""
    owner = registry.alloc("k", (16,), "int64")
    owner[:] = 3
    code = """
    import ctypes, sys
    from theus_shm import attach
    arr = attach(sys.argv[1])
    print("attached", int(arr[0]), flush=True)
    ctypes.memset(arr.ctypes.data, 0xFF, 8)
    print("wrote", flush=True)
    """
    result = run_py(code, owner.shm_name or "")
    assert result.stdout.startswith("attached 3")
    assert "wrote" not in result.stdout
    assert result.returncode == -signal.SIGSEGV
    assert (owner == 3).all()
