from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theus_shm import InvalidSegment
from theus_shm._header import (
    ALIGN,
    array_spec,
    check_array_spec,
    dtype_descr,
    dtype_from_descr,
    pack,
    parse,
    read_info,
)

DTYPES = [
    "<f8", "<f4", "<i8", "u1", "?", "<c16", ">i4", "S7", "<U3", "<M8[ns]", "<m8[s]",
    np.dtype([("x", "<f4"), ("y", "<i2", (3,)), ("name", "S5")]),
    np.dtype({"names": ["a", "b"], "formats": ["u1", "<f8"], "offsets": [0, 8], "itemsize": 24}),
]  # fmt: skip

OWNER = (4242, 987654, 4026531836)


def _pack(shape: tuple[int, ...], dtype: object, session: str = "s", key: str = "k") -> bytes:
    shape, dt, nbytes = check_array_spec(shape, dtype)
    return pack(
        shape=shape, dtype=dt, nbytes=nbytes, owner=OWNER, nonce=77, session=session, key=key
    )


@given(
    shape=st.lists(st.integers(0, 50), max_size=5).map(tuple),
    dtype=st.sampled_from(DTYPES),
    session=st.text(min_size=1, max_size=40),
    key=st.text(min_size=1, max_size=200),
)
def test_header_round_trip(shape: tuple[int, ...], dtype: object, session: str, key: str) -> None:
    raw = _pack(shape, dtype, session, key)
    assert len(raw) % ALIGN == 0
    info = parse("th_x", raw + bytes(10**6), None)
    assert info.header_len == len(raw)
    assert (info.owner_pid, info.owner_start, info.owner_pidns) == OWNER
    assert (info.session, info.key, info.nonce) == (session, key, 77)
    got_shape, got_dtype = array_spec(info)
    assert got_shape == shape
    assert got_dtype == np.dtype(dtype)
    assert info.nbytes == int(np.prod(shape)) * np.dtype(dtype).itemsize


def test_structured_dtype_descriptor_round_trips() -> None:
    dt = DTYPES[-2]
    assert dtype_from_descr(dtype_descr(dt)) == dt
    assert dtype_descr(np.dtype("<f8")) == "<f8"


def test_read_info_reads_a_long_header_in_two_steps() -> None:
    raw = _pack((2,), "<f8", key="k" * 1000 + "é" * 5)
    assert len(raw) > 1024
    calls: list[int] = []

    def read(n: int) -> bytes:
        calls.append(n)
        return (raw + bytes(16))[: min(n, 1000)] if len(calls) == 1 else (raw + bytes(16))[:n]

    info = read_info("th_x", read, len(raw) + 16)
    assert info.key.endswith("é" * 5)
    assert calls[1] == len(raw)


def test_corrupt_headers_are_invalid() -> None:
    raw = _pack((4,), "<i8")
    size = len(raw) + 32
    cases = {
        "too short": raw[:20],
        "magic": b"X" + raw[1:],
        "version 9": raw[:8] + struct.pack("<H", 9) + raw[10:],
        "inconsistent": raw[:12] + struct.pack("<I", 65) + raw[16:],
        "truncated": raw[:80],
    }
    for reason, data in cases.items():
        with pytest.raises(InvalidSegment) as info:
            parse("th_bad", data, size)
        assert info.value.name == "th_bad", reason
    with pytest.raises(InvalidSegment, match="claims"):
        parse("th_bad", raw, size - 1)


def test_array_spec_rejects_a_header_whose_shape_does_not_match() -> None:
    raw = bytearray(_pack((4,), "<i8"))
    struct.pack_into("<Q", raw, 56, 33)  # nbytes field
    with pytest.raises(InvalidSegment, match="do not match"):
        array_spec(parse("th_bad", bytes(raw) + bytes(64), None))
