"""Fixtures: every test gets its own session and must leave no segment of it behind.

Segments of other sessions (other tests running at the same time, e.g. the other Python's
tox env) are never touched.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # shm_helpers, also for spawned children

from shm_helpers import SHM, session_segments, unreaped

from theus_shm import MemoryRegistry

if not SHM.is_dir():  # pragma: no cover - the suite needs Linux /dev/shm
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True)
def session() -> Iterator[str]:
    """A fresh session id (7 characters, used verbatim in names); checked for leaks."""
    s = "t" + secrets.token_hex(3)
    yield s
    left = session_segments(s)
    for name in left:
        (SHM / name).unlink(missing_ok=True)
    assert not left, f"test left shared-memory segments behind: {left}"


@pytest.fixture
def registry(session: str) -> Iterator[MemoryRegistry]:
    reg = MemoryRegistry(session=session)
    yield reg
    reg.close()


@pytest.fixture(autouse=True)
def _reap_children() -> Iterator[None]:
    yield
    while unreaped:
        proc = unreaped.pop()
        proc.wait()
        proc.stdin.close()  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]
