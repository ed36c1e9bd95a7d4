"""Process bodies that import nothing outside the standard library: they can load in a
sub-interpreter. The tests attach contracts to them with ``theus.process(...)(fn)``."""

from __future__ import annotations

import time
from typing import Any


def add(ctx: Any, a: int, b: int) -> int:
    return a + b


def scaled(ctx: Any, factor: int) -> dict[str, Any]:
    values = ctx.domain.numbers
    return {"scaled": [v * factor for v in values], "name": ctx.domain.profile.name}


def where(ctx: Any) -> str:
    import sys

    return "numpy" if "numpy" in sys.modules else "clean"


def nap(ctx: Any, seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def fail(ctx: Any) -> None:
    raise KeyError("missing-thing")


def echo_view(ctx: Any) -> Any:
    return ctx.domain.profile
