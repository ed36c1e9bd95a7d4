"""Every theus distribution in this environment was installed from a local path: none was
resolved from a package index (the PyPI name `theus` belongs to another project)."""

from __future__ import annotations

import json
from importlib.metadata import distribution

import pytest

DISTS = ["theus", "theus-state", "theus-signals", "theus-audit", "theus-flux", "theus-shm"]


@pytest.mark.parametrize("name", DISTS)
def test_distribution_comes_from_a_local_path(name: str) -> None:
    dist = distribution(name)
    raw = dist.read_text("direct_url.json")
    assert raw is not None, f"{name} has no direct_url.json: it came from an index"
    url = json.loads(raw)["url"]
    assert url.startswith("file://"), url
    assert url.rstrip("/").endswith(f"packages/{name}"), url
