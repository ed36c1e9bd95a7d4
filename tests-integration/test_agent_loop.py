"""An agent loop: think/act steps in a Flux while-loop, signals streamed to an async
observer, a command signal from outside stops the loop."""

from __future__ import annotations

import asyncio
from typing import Any

from theus import TheusEngine, process

WORKFLOW = """
steps:
  - flux: while
    condition: "not domain.done and domain.step < 50"
    do: [think, act]
"""


@process(inputs=["domain.step", "domain.memory"], outputs=["domain.sig_thought"])
def think(ctx):  # type: ignore[no-untyped-def]
    ctx.domain.sig_thought = {"step": ctx.domain.step, "recall": len(ctx.domain.memory)}


@process(
    inputs=["domain.step", "domain.memory", "domain.sig_thought"],
    outputs=["domain.step", "domain.memory", "domain.done"],
)
def act(ctx):  # type: ignore[no-untyped-def]
    thought = ctx.signal["domain.sig_thought"]  # produced by the previous commit
    memory = [*ctx.domain.memory, thought["step"]]
    return {"step": ctx.domain.step + 1, "memory": memory, "done": len(memory) >= 5}


def test_agent_loop_streams_signals_to_async_observer() -> None:
    engine = TheusEngine({"domain": {"step": 0, "memory": [], "done": False}})
    for fn in (think, act):
        engine.register(fn)
    sub = engine.signals.subscribe("domain.sig_*")

    async def main() -> tuple[list[str], list[Any]]:
        executed = await engine.execute_workflow(WORKFLOW)
        seen = []
        while (msg := sub.try_recv()) is not None:
            seen.append(msg.payload["step"])
        return executed, seen

    executed, seen = asyncio.run(main())
    assert executed == ["think", "act"] * 5
    assert seen == [0, 1, 2, 3, 4]
    assert engine.state.get("domain.memory") == [0, 1, 2, 3, 4]
    assert engine.state.get("domain.sig_thought", None) is None  # signals do not persist
