from __future__ import annotations

import os
import pickle
import threading

import numpy as np
import pytest
from shm_helpers import SHM, exists, forge_segment, me, run_py, session_segments

from theus_shm import (
    HEAP_ENV,
    InvalidArgument,
    MemoryRegistry,
    SegmentExists,
    ShmArray,
    ShmCapacityError,
    ShmClosed,
    ShmNotFound,
    UnknownKey,
    segment_name,
)

MiB = 1024 * 1024


def test_alloc_attach_round_trip(registry: MemoryRegistry, session: str) -> None:
    arr = registry.alloc("weights", (4, 5), "float32")
    assert isinstance(arr, ShmArray) and arr.is_owner and arr.flags.writeable
    assert arr.shape == (4, 5) and arr.dtype == np.float32
    assert not arr.any()  # fresh segments are zero-filled
    assert arr.shm_name == segment_name(session, os.getpid(), "weights")
    assert exists(arr.shm_name)
    arr[:] = np.arange(20, dtype=np.float32).reshape(4, 5)

    seen = registry.attach(arr.shm_name)  # the name alone suffices
    assert seen.shape == (4, 5) and seen.dtype == np.float32
    np.testing.assert_array_equal(seen, arr)
    assert not seen.is_owner and seen.shm_name == arr.shm_name
    arr[0, 0] = 42  # same memory: the borrower sees the owner's writes
    assert seen[0, 0] == 42
    assert registry.keys() == ["weights"] and "weights" in registry and len(registry) == 1
    np.testing.assert_array_equal(registry.get("weights"), arr)


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((), "int64"),
        ((0,), "float64"),
        ((3, 0, 2), "int8"),
        ((2, 3), np.dtype([("x", "<f4"), ("tag", "S3")])),
        ((5,), "<U4"),
        ((2, 2), ">i4"),
        (7, "complex128"),
    ],
)
def test_shapes_and_dtypes_are_recovered_from_the_segment(
    registry: MemoryRegistry, shape: object, dtype: object
) -> None:
    arr = registry.alloc("a", shape, dtype)
    if arr.size:
        arr.reshape(-1).view(np.uint8)[:] = np.arange(arr.nbytes) % 251
    seen = registry.attach(arr.shm_name or "")
    assert seen.shape == arr.shape and seen.dtype == arr.dtype
    assert seen.tobytes() == arr.tobytes()


def test_release_unlinks_and_keeps_live_views_valid(registry: MemoryRegistry) -> None:
    arr = registry.alloc("k", (100,), "int64")
    arr[:] = 5
    part = arr[10:20]
    borrowed = registry.attach(arr.shm_name or "")
    name = arr.shm_name or ""
    registry.release("k")
    assert not exists(name) and "k" not in registry and registry.used == 0
    assert part.sum() == 50 and borrowed.sum() == 500  # still mapped, no crash
    part[:] = 1
    with pytest.raises(ShmNotFound):
        registry.attach(name)
    with pytest.raises(UnknownKey) as info:
        registry.release("k")
    assert info.value.key == "k" and isinstance(info.value, KeyError)
    with pytest.raises(UnknownKey):
        registry.get("k")
    again = registry.alloc("k", (3,), "int64")  # the key (and name) can be reused
    assert again.shm_name == name and not again.any()


def test_duplicate_keys_and_colliding_registries(registry: MemoryRegistry, session: str) -> None:
    registry.alloc("k", 4)
    with pytest.raises(SegmentExists) as info:
        registry.alloc("k", 4)
    assert info.value.key == "k"
    twin = MemoryRegistry(session=session, collect_zombies=False)
    with pytest.raises(SegmentExists):  # same session, pid and key: same name
        twin.alloc("k", 4)
    assert len(twin) == 0 and twin.used == 0
    twin.close()


def test_close_releases_everything_and_is_idempotent(session: str) -> None:
    with MemoryRegistry(session=session) as reg:
        names = [reg.alloc(f"k{i}", 10).shm_name for i in range(5)]
        assert len(session_segments(session)) == 5
    assert reg.closed and not session_segments(session)
    reg.close()
    with pytest.raises(ShmClosed):
        reg.alloc("late", 1)
    assert all(n is not None and not exists(n) for n in names)


@pytest.mark.parametrize(
    ("key", "shape", "dtype", "argument"),
    [
        ("", 3, "f8", "key"),
        (7, 3, "f8", "key"),
        ("k" * 2000, 3, "f8", "key"),
        ("nul\x00", 3, "f8", "key"),
        ("k", -1, "f8", "shape"),
        ("k", (2, 2.5), "f8", "shape"),
        ("k", (True,), "f8", "shape"),
        ("k", "3", "f8", "shape"),
        ("k", tuple([1] * 65), "f8", "shape"),
        ("k", (2**40, 2**30), "f8", "shape"),
        ("k", 3, object, "dtype"),
        ("k", 3, "not-a-dtype", "dtype"),
        ("k", 3, "V0", "dtype"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    registry: MemoryRegistry, session: str, key: object, shape: object, dtype: object, argument: str
) -> None:
    registry.alloc("existing", 2)
    with pytest.raises(InvalidArgument) as info:
        registry.alloc(key, shape, dtype)  # type: ignore[arg-type]
    assert info.value.argument == argument and isinstance(info.value, ValueError)
    assert registry.keys() == ["existing"] and registry.used == 16
    assert len(session_segments(session)) == 1


def test_capacity_is_enforced_before_allocating(session: str) -> None:
    with MemoryRegistry(session=session, capacity=MiB) as reg:
        reg.alloc("a", MiB // 2, "uint8")
        with pytest.raises(ShmCapacityError) as info:
            reg.alloc("b", MiB // 2 + 1, "uint8")
        err = info.value
        assert (err.requested, err.available, err.capacity, err.used) == (
            MiB // 2 + 1, MiB // 2, MiB, MiB // 2,
        )  # fmt: skip
        assert "b" not in reg and len(session_segments(session)) == 1
        reg.alloc("b", MiB // 2, "uint8")  # exactly full
        reg.release("a")
        reg.alloc("c", MiB // 4, "uint8")
        assert reg.used == MiB // 2 + MiB // 4


def test_capacity_from_environment(session: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HEAP_ENV, "1.5")
    with MemoryRegistry(session=session) as reg:
        assert reg.capacity == int(1.5 * MiB)
        with pytest.raises(ShmCapacityError):
            reg.alloc("big", 2 * MiB, "uint8")
    with MemoryRegistry(session=session, capacity=10) as reg:  # the argument wins
        assert reg.capacity == 10
    for bad in ("lots", "-1", "nan", "inf"):
        monkeypatch.setenv(HEAP_ENV, bad)
        with pytest.raises(InvalidArgument, match=HEAP_ENV):
            MemoryRegistry(session=session)
    monkeypatch.setenv(HEAP_ENV, "")
    assert MemoryRegistry(session=session, collect_zombies=False).capacity is None


@pytest.mark.parametrize("capacity", [-1, 1.5, True, "10"])
def test_bad_capacity_argument(session: str, capacity: object) -> None:
    with pytest.raises(InvalidArgument):
        MemoryRegistry(session=session, capacity=capacity)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", 3, "x" * 300])
def test_bad_session(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        MemoryRegistry(session=bad)  # type: ignore[arg-type]


def test_generated_session(monkeypatch: pytest.MonkeyPatch) -> None:
    with MemoryRegistry() as reg:
        assert len(reg.session) == 8
        arr = reg.alloc("k", 1)
        assert (arr.shm_name or "").startswith(f"th_{reg.session}_")


def test_concurrent_allocations_never_exceed_capacity(session: str) -> None:
    with MemoryRegistry(session=session, capacity=5 * MiB) as reg:
        outcomes: list[str] = []
        barrier = threading.Barrier(12)

        def worker(i: int) -> None:
            barrier.wait()
            try:
                reg.alloc(f"k{i}", MiB, "uint8")
                outcomes.append("ok")
            except ShmCapacityError:
                outcomes.append("full")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["full"] * 7 + ["ok"] * 5
        assert reg.used == 5 * MiB and len(session_segments(session)) == 5


def test_alloc_reclaims_a_zombie_holding_its_name(registry: MemoryRegistry, session: str) -> None:
    """A dead owner that had our PID (reused), session and key left its segment behind."""
    pid, start, ns = me()
    forge_segment(session, "k", owner=(pid, start - 1, ns))  # same pid, older process
    arr = registry.alloc("k", (8,), "int64")
    assert arr.shm_name == segment_name(session, pid, "k") and not arr.any()
    forge_segment(session, "live", owner=(pid, start, ns))  # this very process: alive
    with pytest.raises(SegmentExists):
        registry.alloc("live", (8,), "int64")
    (SHM / segment_name(session, pid, "live")).unlink()


def test_ufunc_results_and_copies_are_plain(registry: MemoryRegistry) -> None:
    arr = registry.alloc("k", (6,), "int64")
    arr[:] = np.arange(6)
    assert type(arr + 1) is np.ndarray
    assert type(np.sqrt(arr)) is np.ndarray
    assert isinstance(arr.sum(), np.integer)
    arr += 1  # in place: still the shared array
    assert isinstance(arr, ShmArray) and arr.shm_name is not None and arr[0] == 1
    np.add(arr, 1, out=arr)
    assert arr[0] == 2
    copy = arr.copy()
    assert copy.shm_name is None and not copy.is_owner
    view = arr[::2]
    assert view.shm_name == arr.shm_name and view.shm_offset == 0
    assert arr[3:].shm_offset == 24


def test_a_copy_is_never_mistaken_for_shared_memory_after_unmapping(
    registry: MemoryRegistry,
) -> None:
    arr = registry.alloc("k", (1024,), "int64")
    copy = arr.copy()
    seg = arr.segment
    assert seg is not None and copy._shm_segment is seg
    del arr
    registry.release("k")  # no live view: unmapped now
    assert seg.closed
    later = copy.copy()  # may land where the mapping was; still not shared memory
    assert later.shm_name is None and copy.shm_name is None
    assert type(pickle.loads(pickle.dumps(later))) is np.ndarray


def test_normal_process_exit_unlinks_owned_segments(session: str) -> None:
    code = """
    import sys
    from theus_shm import MemoryRegistry
    reg = MemoryRegistry(session=sys.argv[1])
    for i in range(3):
        print(reg.alloc(f"k{i}", 100).shm_name)
    # no close(): the exit handlers must remove them
    """
    result = run_py(code, session)
    assert result.returncode == 0, result.stderr
    names = result.stdout.split()
    assert len(names) == 3 and not any(exists(n) for n in names)
