from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from theus_shm import InvalidName, segment_name
from theus_shm._names import base36, encode_session, normalize, session_prefix

NAME = re.compile(r"th_[0-9a-z]{1,8}_[0-9a-z]{1,6}_[a-z2-7]{10}")


@given(st.text(min_size=1), st.integers(0, 2**31 - 1), st.text(min_size=1))
def test_names_are_short_portable_and_deterministic(session: str, pid: int, key: str) -> None:
    name = segment_name(session, pid, key)
    assert NAME.fullmatch(name), name
    assert len("/" + name) <= 30  # macOS PSHMNAMLEN, with the leading slash
    assert not name.startswith(("psm_", "wnsm_"))
    assert name == segment_name(session, pid, key)
    assert name.startswith(session_prefix(session))
    assert normalize(name) == name


def test_short_sessions_verbatim_long_ones_hashed() -> None:
    assert encode_session("a1b2c3d4") == "a1b2c3d4"
    assert encode_session("job7") == "job7"
    hashed = encode_session("my-pipeline:run/42")
    assert re.fullmatch(r"[0-9a-f]{8}", hashed) and hashed == encode_session("my-pipeline:run/42")
    assert encode_session("UPPER") != "UPPER"  # only [0-9a-z] is used verbatim


def test_pid_is_visible_and_keys_are_distinct() -> None:
    name = segment_name("s1", 123456, "weights")
    assert name.split("_")[2] == base36(123456)
    assert int(name.split("_")[2], 36) == 123456
    keys = {segment_name("s1", 99, f"key{i}") for i in range(2000)}
    assert len(keys) == 2000
    assert segment_name("s1", 99, "k") != segment_name("s1", 100, "k")
    assert segment_name("s1", 99, "k") != segment_name("s2", 99, "k")


@given(st.integers(0, 2**40))
def test_base36_round_trip(n: int) -> None:
    assert int(base36(n), 36) == n


def test_normalize_strips_slash_and_accepts_foreign_posix_names() -> None:
    assert normalize("/th_abc") == "th_abc"
    assert normalize("my.segment-1") == "my.segment-1"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("/", "empty"),
        ("x" * 30, "longer than 29"),
        ("psm_1234", "reserved"),
        ("/wnsm_abcd", "reserved"),
        ("a/b", "only letters"),
        ("th:s:1:k", "only letters"),
        ("..", "only letters"),
        (42, "must be a str"),
    ],
)
def test_bad_names_are_refused_with_the_reason(name: object, reason: str) -> None:
    with pytest.raises(InvalidName, match=reason) as info:
        normalize(name)
    assert info.value.name == name
    assert isinstance(info.value, ValueError)
