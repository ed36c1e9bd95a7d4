"""theus-flux figures: step and loop overhead of the runner, compiled conditions, loading.

Floors (Python 3.11, medians, each against its same-run baseline):
- sequential step overhead <= 3 us  (flux.sequential_step_overhead)
- while iteration incl. its condition <= 5 us  (flux.while_iteration_overhead)
- compiled condition <= 2 us  (flux.condition_*)
Baselines: a plain Python loop calling the same no-op executor, and a hand-written
lambda for the conditions.
"""

from __future__ import annotations

import asyncio
import os

from _timing import per_call, report, report_baseline, samples

os.environ.setdefault("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")

from theus_flux import FluxRunner, Workflow, compile_condition

N = 1000

DESIGN_EXAMPLE = """
steps:
  - initialize
  - process: load_batch
  - flux: if
    condition: "domain.is_valid and len(domain.items) > 0"
    then: [process_data, save_result]
    else: [handle_error]
  - flux: while
    condition: "domain.items_left > 0"
    do: [process_next_item]
  - flux: run
    steps: [a, b]
"""


def noop(name: str) -> None:
    return None


def sequential() -> None:
    names = [f"step_{i}" for i in range(N)]
    workflow = Workflow.from_yaml("steps:\n" + "".join(f"  - {n}\n" for n in names))
    runner = FluxRunner(workflow, noop, max_ops=10 * N)
    ctx = {"domain": {}}

    def plain() -> None:
        for name in names:
            noop(name)

    base = per_call(plain) / N
    flux = per_call(lambda: runner.run(ctx)) / N
    report("baseline.flux_plain_loop_step", base)
    report("flux.sequential_step", flux)
    report("flux.sequential_step_overhead", flux - base)

    positions: list[object] = []
    tracked = FluxRunner(workflow, noop, max_ops=10 * N, on_step_done=positions.append)

    def with_positions() -> None:
        positions.clear()
        tracked.run(ctx)

    report("flux.sequential_step_with_positions", per_call(with_positions) / N)


def async_steps() -> None:
    names = [f"step_{i}" for i in range(N)]
    workflow = Workflow.from_yaml("steps:\n" + "".join(f"  - {n}\n" for n in names))
    ctx = {"domain": {}}

    async def anoop(name: str) -> None:
        return None

    runner = FluxRunner(workflow, anoop, max_ops=10 * N)

    async def plain() -> None:
        for name in names:
            await anoop(name)

    base = per_call(lambda: asyncio.run(plain()), repeat=5) / N
    flux = per_call(lambda: asyncio.run(runner.arun(ctx)), repeat=5) / N
    report("baseline.flux_plain_async_loop_step", base)
    report("flux.async_step_arun", flux)
    report("flux.async_step_arun_overhead", flux - base)


def while_loop() -> None:
    workflow = Workflow.from_yaml(
        'steps:\n  - flux: while\n    condition: "domain.i < domain.n"\n    do: [tick]\n'
    )
    domain = {"i": 0, "n": N}
    ctx = {"domain": domain}

    def tick(name: str) -> None:
        domain["i"] += 1

    runner = FluxRunner(workflow, tick, max_ops=10 * N)

    def plain() -> None:
        domain["i"] = 0
        while domain["i"] < domain["n"]:
            tick("tick")

    def flux() -> None:
        domain["i"] = 0
        runner.run(ctx)

    base = per_call(plain) / N
    flux_t = per_call(flux) / N
    report("baseline.flux_plain_while_iteration", base)
    report("flux.while_iteration", flux_t)
    report("flux.while_iteration_overhead", flux_t - base)


def conditions() -> None:
    ctx = {"domain": {"items_left": 3, "is_valid": True, "items": [1, 2, 3]}}
    simple = compile_condition("domain.items_left > 0")
    nested = compile_condition("domain.is_valid and len(domain.items) > 0")

    def plain_simple(c: dict[str, dict[str, int]]) -> bool:
        return c["domain"]["items_left"] > 0

    report("baseline.flux_plain_condition", per_call(lambda: plain_simple(ctx)))
    fn = simple.fn
    report("flux.condition_simple", per_call(lambda: fn(ctx)))
    report("flux.condition_simple_evaluate", per_call(lambda: simple.evaluate(ctx)))
    nested_fn = nested.fn
    report("flux.condition_and_len", per_call(lambda: nested_fn(ctx)))


def loading() -> None:
    report("flux.load_design_example", samples(lambda: Workflow.from_yaml(DESIGN_EXAMPLE)), "ms")
    report(
        "flux.compile_condition",
        per_call(lambda: compile_condition("domain.is_valid and len(domain.items) > 0")),
    )


def main() -> None:
    report_baseline()
    sequential()
    async_steps()
    while_loop()
    conditions()
    loading()


if __name__ == "__main__":
    main()
