from __future__ import annotations

import pytest

from theus_state import hookimpl as state_hookimpl


@pytest.fixture(autouse=True)
def _no_entry_point_plugins(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Engines in tests see only the plugins they are given, unless a test opts in."""
    if "entry_points" not in request.keywords:
        monkeypatch.setenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "entry_points: let engines load entry-point plugins")


class FailAfterCommit:
    """A theus-state plugin that loses the process right behind commit ``version``
    (the commit is durable, the next one not begun)."""

    def __init__(self, version: int) -> None:
        self.version = version

    @state_hookimpl
    def theus_state_commit(self, version: int) -> None:
        if version == self.version:
            raise RuntimeError(f"lost the process after commit {version}")


@pytest.fixture
def fail_after_commit() -> type[FailAfterCommit]:
    return FailAfterCommit
