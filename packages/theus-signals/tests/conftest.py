from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_entry_point_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests see only the plugins they register themselves.
    monkeypatch.setenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")
