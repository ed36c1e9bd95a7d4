from __future__ import annotations

import gc
import os
import pickle

import numpy as np
import pytest
from shm_helpers import SHM, exists, run_py

from theus_shm import (
    InvalidArgument,
    InvalidName,
    InvalidSegment,
    NotOwnerError,
    SafeSharedMemory,
    SegmentExists,
    ShmCapacityError,
    ShmClosed,
    ShmNotFound,
    _backend,
    segment_name,
)


def _name(session: str, key: str = "raw") -> str:
    return segment_name(session, os.getpid(), key)


def test_owner_writes_borrower_reads(session: str) -> None:
    owner = SafeSharedMemory(_name(session), create=True, size=100)
    try:
        assert owner.is_owner and not owner.readonly and owner.size == 100
        owner.buf[:5] = b"hello"
        borrower = SafeSharedMemory(owner.name)
        assert not borrower.is_owner and borrower.readonly
        assert bytes(borrower.buf[:5]) == b"hello"
        with pytest.raises(TypeError):
            borrower.buf[0] = 1
        assert borrower.info.owner_pid == os.getpid()
        assert borrower.info.shape == (100,) and borrower.info.dtype == "|u1"
        borrower.close()
    finally:
        owner.unlink()
        owner.close()
    assert not exists(owner.name)


def test_borrower_unlink_is_refused(session: str) -> None:
    with SafeSharedMemory(_name(session), create=True, size=8) as owner:
        borrower = SafeSharedMemory("/" + owner.name)  # a leading slash is accepted
        with pytest.raises(PermissionError) as info:
            borrower.unlink()
        assert isinstance(info.value, NotOwnerError) and info.value.name == owner.name
        assert exists(owner.name)
        borrower.close()
        owner.unlink()
        owner.unlink()  # idempotent


def test_unlinked_segment_stays_readable_by_existing_mappings(session: str) -> None:
    owner = SafeSharedMemory(_name(session), create=True, size=16)
    owner.buf[:3] = b"abc"
    borrower = SafeSharedMemory(owner.name)
    owner.unlink()
    assert not exists(owner.name)
    assert bytes(borrower.buf[:3]) == b"abc"
    with pytest.raises(ShmNotFound):
        SafeSharedMemory(owner.name)


def test_close_is_deferred_while_arrays_live(session: str) -> None:
    owner = SafeSharedMemory(_name(session), create=True, size=64)
    arr = owner.data_array()
    view = arr[10:20]
    del arr
    owner.close()  # must not unmap under `view`
    assert owner.closed
    view[:] = 9  # still mapped: no crash
    assert view.sum() == 90
    with pytest.raises(ShmClosed):
        owner.data_array()
    with pytest.raises(ShmClosed):
        _ = owner.buf
    owner.unlink()


def test_generated_name_and_duplicate_create(session: str) -> None:
    anon = SafeSharedMemory(create=True, size=1)
    assert anon.name.startswith("th_") and len(anon.name) <= 29
    anon.unlink()
    with SafeSharedMemory(_name(session), create=True, size=1) as first:
        with pytest.raises(SegmentExists) as info:
            SafeSharedMemory(first.name, create=True, size=1)
        assert isinstance(info.value, FileExistsError) and info.value.name == first.name
        first.unlink()


def test_bad_arguments(session: str) -> None:
    with pytest.raises(InvalidArgument):
        SafeSharedMemory(_name(session), create=True, size=-1)
    with pytest.raises(InvalidArgument):
        SafeSharedMemory()
    with pytest.raises(InvalidName):
        SafeSharedMemory("psm_abc", create=True, size=1)
    with pytest.raises(ShmNotFound) as info:
        SafeSharedMemory(_name(session, "never"))
    assert isinstance(info.value, FileNotFoundError)


def test_foreign_and_truncated_files_are_not_segments(session: str) -> None:
    for content in (b"", b"x" * 10, b"not a theus header at all" * 10):
        name = _name(session, f"foreign{len(content)}")
        (SHM / name).write_bytes(content)
        try:
            with pytest.raises(InvalidSegment) as info:
                SafeSharedMemory(name)
            assert info.value.name == name
        finally:
            (SHM / name).unlink()


def test_garbage_collected_owner_unlinks(session: str) -> None:
    owner = SafeSharedMemory(_name(session), create=True, size=8)
    name = owner.name
    del owner
    gc.collect()
    assert not exists(name)


def test_normal_exit_unlinks_but_forked_child_never_does(session: str) -> None:
    code = """
    import os, sys
    from theus_shm import SafeSharedMemory, NotOwnerError
    seg = SafeSharedMemory(sys.argv[1], create=True, size=8)
    pid = os.fork()
    if pid == 0:  # the child is a borrower of its parent's segment
        assert not seg.is_owner
        try:
            seg.unlink()
        except NotOwnerError:
            pass
        else:
            os._exit(3)
        sys.exit(0)  # runs the child's exit handlers: they must not unlink
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert os.path.exists("/dev/shm/" + sys.argv[1]), "forked child unlinked the segment"
    print("parent exiting")
    """
    name = _name(session, "fork")
    result = run_py(code, name)
    assert result.returncode == 0, result.stderr
    assert "parent exiting" in result.stdout
    assert not exists(name)  # the owner's normal exit removed it


def test_pickled_segment_attaches_as_borrower(session: str) -> None:
    with SafeSharedMemory(_name(session), create=True, size=4) as owner:
        owner.buf[:] = b"data"
        copy = pickle.loads(pickle.dumps(owner))
        assert not copy.is_owner and bytes(copy.buf) == b"data"
        copy.close()
        owner.unlink()


def test_dev_shm_space_is_checked_before_allocating(
    session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = _backend.backend()
    assert isinstance(backend, _backend.DevShmBackend)
    SafeSharedMemory(_name(session, "small"), create=True, size=10).unlink()  # a fresh reading
    free = backend._free
    monkeypatch.setattr(backend, "free_bytes", lambda: 1000)
    name = _name(session, "big")
    # a request above a quarter of the last reading always reads anew
    with pytest.raises(ShmCapacityError) as info:
        SafeSharedMemory(name, create=True, size=free // 4 + 1)
    assert info.value.where == "/dev/shm" and info.value.available == 1000
    assert isinstance(info.value, MemoryError)
    # and so does any request once the reading is older than 50 ms
    monkeypatch.setattr(backend, "_free_at", backend._free_at - 1)
    with pytest.raises(ShmCapacityError):
        SafeSharedMemory(name, create=True, size=2000)
    assert not exists(name)


def test_posix_shm_open_backend(session: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The macOS code path (``_posixshmem``), exercised here on Linux."""
    monkeypatch.setattr(_backend, "BACKEND", _backend.PosixShmBackend())
    owner = SafeSharedMemory(_name(session, "posix"), create=True, size=32)
    owner.buf[:4] = b"\x01\x02\x03\x04"
    borrower = SafeSharedMemory(owner.name)
    arr = borrower.data_array()
    assert arr[:4].tolist() == [1, 2, 3, 4] and not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[0] = 0
    with pytest.raises(NotOwnerError):
        borrower.unlink()
    owner.unlink()
    assert not exists(owner.name)
    np.testing.assert_array_equal(arr[:4], [1, 2, 3, 4])
