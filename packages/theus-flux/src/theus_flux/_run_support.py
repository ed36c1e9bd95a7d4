"""Helpers of the runner that are not the interpreter: the ``max_ops`` rule and the
private event loop that completes async steps during a synchronous ``run``."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable
from typing import Any

from .exceptions import FluxError

__all__ = ["DEFAULT_MAX_OPS", "PrivateLoop", "resolve_max_ops"]

DEFAULT_MAX_OPS = 10_000


def resolve_max_ops(max_ops: int | None) -> int:
    """``max_ops``, else ``THEUS_MAX_LOOPS`` from the environment, else 10,000."""
    label = "max_ops"
    value: object = max_ops
    if max_ops is None:
        env = os.environ.get("THEUS_MAX_LOOPS", "").strip()
        if not env:
            return DEFAULT_MAX_OPS
        label = "THEUS_MAX_LOOPS"
        try:
            value = int(env)
        except ValueError:
            value = env
    if type(value) is not int or value < 1:
        raise ValueError(f"{label} must be a positive integer, not {value!r}")
    return value


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class PrivateLoop:
    """Completes awaitables for a synchronous run on an ``asyncio.Runner`` made on first
    use and closed by ``close()`` (at the end of each run)."""

    __slots__ = ("_runner",)

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None

    @property
    def active(self) -> bool:
        return self._runner is not None

    def run(self, awaitable: Awaitable[Any]) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never awaited: close it instead of leaking a warning
            raise FluxError(
                "an async step cannot run inside runner.run() on a running event loop; "
                "use 'await runner.arun(ctx)'"
            )
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(_await(awaitable))

    def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()
