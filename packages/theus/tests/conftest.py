from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_entry_point_plugins(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Engines in tests see only the plugins they are given, unless a test opts in."""
    if "entry_points" not in request.keywords:
        monkeypatch.setenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "entry_points: let engines load entry-point plugins")
