"""theus engine figures (issue 7). Each line: ``name: value unit``; baselines from this run."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import _timing as t

from theus import TheusEngine, process


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def step(ctx):  # type: ignore[no-untyped-def]
    ctx.domain.counter = ctx.domain.counter + 1


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def step_return(ctx):  # type: ignore[no-untyped-def]
    return ctx.domain.counter + 1


WORKFLOW = """
steps:
  - flux: while
    condition: "domain.counter < domain.limit"
    do: [step]
"""


def main() -> None:
    base = t.report_baseline()
    for strict in (True, False):
        engine = TheusEngine({"domain": {"counter": 0, "limit": 0}}, strict_mode=strict)
        engine.register(step)
        engine.register(step_return)
        label = "strict" if strict else "fast"
        run = t.per_call(lambda e=engine: e.run("step"))
        t.report(f"engine.run_{label}", run)
        t.report_value(f"engine.run_{label}_vs_baseline", run / base, "x")
        run_ret = t.per_call(lambda e=engine: e.run("step_return"))
        t.report(f"engine.run_{label}_return_value", run_ret)
        # what an application sees: the cyclic GC on (calls leave no cycles to collect)
        t.report(
            f"engine.run_{label}_gc_on", t.per_call(lambda e=engine: e.run("step"), gc_on=True)
        )

    engine = TheusEngine({"domain": {"counter": 0, "limit": 0}})
    engine.register(step)

    async def many(n: int) -> None:
        for _ in range(n):
            await engine.execute(step)

    n = 20_000
    seconds = t.samples(lambda: asyncio.run(many(n)), repeat=5) / n
    t.report("engine.execute_async", seconds)

    iterations = 2_000

    def wf() -> None:
        limit = engine.state.get("domain.counter") + iterations
        engine.compare_and_swap(engine.state.version, {"domain.limit": limit})
        engine.run_workflow(WORKFLOW)

    per_iter = t.samples(wf, repeat=5) / iterations
    t.report("engine.workflow_while_iteration", per_iter)


if __name__ == "__main__":
    main()
