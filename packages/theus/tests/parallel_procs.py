"""Processes for the parallel tests (imported by name by the workers).

This module imports theus, so whether it can load in a sub-interpreter depends on
theus's own dependencies; tests that need a given backend force it.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from theus import StateUpdate, process


class InsufficientFunds(Exception):
    """A custom, picklable error type."""


class Unpicklable(Exception):
    def __init__(self, handle: Any) -> None:
        super().__init__("cannot travel")
        self.handle = handle

    def __reduce__(self) -> Any:
        raise TypeError("Unpicklable refuses pickling")


def _transfer(ctx: Any, src: str, dst: str, amount: int) -> dict[str, int]:
    accounts = dict(ctx.domain.accounts)
    if accounts.get(src, 0) < amount:
        raise InsufficientFunds(f"{src} has {accounts.get(src, 0)}, needs {amount}")
    accounts[src] -= amount
    accounts[dst] = accounts.get(dst, 0) + amount
    return accounts


@process(inputs=["domain.accounts"], outputs=["domain.accounts"], parallel=True)
def transfer(ctx: Any, src: str, dst: str, amount: int) -> dict[str, int]:
    return _transfer(ctx, src, dst, amount)


@process(inputs=["domain.accounts"], outputs=["domain.accounts"])
def transfer_seq(ctx: Any, src: str, dst: str, amount: int) -> dict[str, int]:
    return _transfer(ctx, src, dst, amount)


@process(inputs=["domain.counter"], outputs=["domain.counter"], parallel=True)
def increment(ctx: Any, by: int = 1) -> int:
    return int(ctx.domain.counter) + by


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def increment_seq(ctx: Any, by: int = 1) -> int:
    return int(ctx.domain.counter) + by


@process(inputs=["domain.user"], outputs=["domain.report", "domain.sig_done"], parallel=True)
def report(ctx: Any, greeting: str) -> tuple[str, str]:
    ctx.log("reporting on %s", ctx.domain.user.name)
    return f"{greeting}, {ctx.domain.user.name} ({ctx.domain.greeting})", "ok"


@process(inputs=["domain.counter"], outputs=["domain.total", "domain.items"], parallel=True)
def write_through_ctx(ctx: Any, n: int) -> None:
    ctx.domain.total = ctx.domain.counter * n
    ctx.domain.items = list(range(n))


@process(inputs=["domain.counter"], outputs=["domain.counter"], parallel=True)
def read_undeclared(ctx: Any) -> Any:
    return ctx.domain.secret


@process(inputs=[], outputs=["domain.counter"], parallel=True)
def write_undeclared(ctx: Any) -> dict[str, Any]:
    return StateUpdate({"domain.secret": 1})  # type: ignore[return-value]


@process(parallel=True, errors=["InsufficientFunds"])
def fail_custom(ctx: Any) -> None:
    raise InsufficientFunds("declared failure")


@process(parallel=True)
def fail_unpicklable(ctx: Any) -> None:
    raise Unpicklable(lambda: None)


@process(parallel=True)
def pid(ctx: Any) -> int:
    return os.getpid()


@process(parallel=True)
def crash(ctx: Any, how: str = "kill") -> None:
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(3)


@process(parallel=True)
def nap(ctx: Any, seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@process(inputs=["domain.heavy_img"], outputs=["domain.stats"], parallel=True)
def heavy_stats(ctx: Any, scale: float = 1.0) -> dict[str, Any]:
    img = ctx.heavy["heavy_img"]
    same = ctx.domain.heavy_img is img
    return {
        "sum": float(img.sum()) * scale,
        "writeable": bool(img.flags.writeable),
        "shm": getattr(img, "shm_name", None),
        "same": same,
    }


@process(inputs=["domain.heavy_img"], parallel=True)
def heavy_write(ctx: Any) -> None:
    ctx.heavy["heavy_img"][0] = 99.0


@process(parallel=True)
def arg_sum(ctx: Any, arr: Any) -> float:
    assert ctx.heavy["arr"] is arr or ctx.heavy["arr"].shm_name == arr.shm_name
    return float(arr.sum())


@process(inputs=["domain.counter"], outputs=["domain.counter"], parallel=True)
async def async_increment(ctx: Any) -> int:
    return int(ctx.domain.counter) + 10


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


@process(parallel=True)
def cpu(ctx: Any, n: int) -> int:
    return spin(n)
