"""Task bodies for bench_parallel.py. Standard library only, so that they can load in a
sub-interpreter; the benchmark attaches contracts with ``theus.process(...)(fn)``."""

from __future__ import annotations

from typing import Any


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def cpu(ctx: Any, n: int) -> int:
    return spin(n)


def trivial(ctx: Any) -> int:
    return 1


def heavy_shape(ctx: Any, arr: Any) -> tuple[int, ...]:
    return tuple(arr.shape)
