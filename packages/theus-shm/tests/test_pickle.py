from __future__ import annotations

import pickle

import numpy as np
import pytest
from shm_helpers import run_py

from theus_shm import InvalidSegment, MemoryRegistry, ShmArray, ShmNotFound

PROTOCOLS = range(2, pickle.HIGHEST_PROTOCOL + 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pickle_is_o1_in_the_array_size(registry: MemoryRegistry, protocol: int) -> None:
    big = registry.alloc("big", (50 * 1024 * 1024 // 8,), "float64")  # 50 MiB
    small = registry.alloc("small", (2,), "float64")
    big_payload = pickle.dumps(big, protocol=protocol)
    assert len(big_payload) < 512
    assert abs(len(big_payload) - len(pickle.dumps(small, protocol=protocol))) < 16
    assert len(pickle.dumps(big[1000:2000:3], protocol=protocol)) < 512


def test_unpickled_array_is_a_borrowed_view_of_the_same_memory(registry: MemoryRegistry) -> None:
    arr = registry.alloc("k", (6, 4), "int32")
    arr[:] = np.arange(24).reshape(6, 4)
    back = pickle.loads(pickle.dumps(arr))
    assert isinstance(back, ShmArray) and not back.is_owner and not back.flags.writeable
    np.testing.assert_array_equal(back, arr)
    arr[0, 0] = -1  # shared, not copied
    assert back[0, 0] == -1


@pytest.mark.parametrize(
    "index",
    [
        np.s_[2:5],
        np.s_[1:, 2],
        np.s_[::-1, ::2],
        np.s_[3, :],
        np.s_[4:4],
        np.s_[5, 3, ...],  # a 0-d view
    ],
)
def test_slices_carry_their_offset_and_strides(registry: MemoryRegistry, index: object) -> None:
    arr = registry.alloc("k", (6, 4), "int64")
    arr[:] = np.arange(24).reshape(6, 4)
    part = arr[index]  # type: ignore[index]
    back = pickle.loads(pickle.dumps(part))
    np.testing.assert_array_equal(back, part)
    assert back.shape == part.shape and back.strides == part.strides
    if part.size:
        assert back.shm_offset == part.shm_offset


def test_transposed_and_fortran_views(registry: MemoryRegistry) -> None:
    arr = registry.alloc("k", (3, 5), "float32")
    arr[:] = np.random.default_rng(0).random((3, 5))
    for view in (arr.T, arr[:, 1:4].T, arr.reshape(5, 3)):
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(view)), view)


def test_unpickling_twice_shares_one_mapping(registry: MemoryRegistry) -> None:
    arr = registry.alloc("k", (10,), "int8")
    payload = pickle.dumps(arr)
    a, b = pickle.loads(payload), pickle.loads(payload)
    assert a.segment is b.segment is not None
    c = pickle.loads(pickle.dumps(arr[2:]))
    assert c.segment is a.segment


def test_a_copy_pickles_its_data(registry: MemoryRegistry) -> None:
    arr = registry.alloc("k", (1000,), "int64")
    arr[:] = 4
    copy = arr.copy()
    payload = pickle.dumps(copy)
    assert len(payload) > 8000
    back = pickle.loads(payload)
    assert type(back) is np.ndarray and (back == 4).all()
    total = pickle.loads(pickle.dumps(arr + 1))
    assert type(total) is np.ndarray and (total == 5).all()


def test_a_released_and_reused_name_is_not_confused(registry: MemoryRegistry) -> None:
    arr = registry.alloc("k", (4,), "int64")
    payload = pickle.dumps(arr)
    del arr
    registry.release("k")
    with pytest.raises(ShmNotFound):
        pickle.loads(payload)
    fresh = registry.alloc("k", (4,), "int64")  # same name, a new segment
    with pytest.raises(InvalidSegment, match="reused"):
        pickle.loads(payload)
    assert pickle.loads(pickle.dumps(fresh)).shm_name == fresh.shm_name


def test_unpickling_in_another_process_attaches_read_only(registry: MemoryRegistry) -> None:
    arr = registry.alloc("k", (1000,), "float64")
    arr[:] = np.linspace(0, 1, 1000)
    code = """
    import pickle, sys
    arr = pickle.loads(bytes.fromhex(sys.argv[1]))
    print(type(arr).__name__, arr.is_owner, arr.flags.writeable, float(arr.sum()))
    try:
        arr[0] = 1
    except ValueError:
        print("refused")
    """
    result = run_py(code, pickle.dumps(arr[100:]).hex())
    assert result.returncode == 0, result.stderr
    kind, owner, writeable, total, refused = result.stdout.split()
    assert (kind, owner, writeable, refused) == ("ShmArray", "False", "False", "refused")
    assert float(total) == pytest.approx(float(arr[100:].sum()))
