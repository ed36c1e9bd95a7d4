from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


class Script:
    """A test executor: records every name and applies a tiny effect named by it.

    ``dec:f`` / ``inc:f`` change ``ctx['domain'][f]`` by one, ``set:f=v`` sets it to the
    int ``v``, ``fail`` raises ``RuntimeError``; any other name does nothing.
    """

    def __init__(self, ctx: dict[str, Any]) -> None:
        self.ctx = ctx
        self.calls: list[str] = []

    def __call__(self, name: str) -> None:
        self.calls.append(name)
        domain = self.ctx.setdefault("domain", {})
        op, _, arg = name.partition(":")
        if op == "dec":
            domain[arg] -= 1
        elif op == "inc":
            domain[arg] += 1
        elif op == "set":
            field, _, value = arg.partition("=")
            domain[field] = int(value)
        elif op == "fail":
            raise RuntimeError(f"boom in {name}")


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("THEUS_MAX_LOOPS", raising=False)
    monkeypatch.delenv("THEUS_TRACE_HOOKS", raising=False)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def script() -> type[Script]:
    return Script
