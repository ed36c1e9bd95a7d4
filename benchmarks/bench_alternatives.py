"""Theus against the alternatives users compare it with, measured in the same run.

The same workload everywhere: one step that reads one integer field of the state and
writes it back plus one. Each figure: ``name: value unit``; ratios say how many times
slower the alternative is than Theus here. Alternatives are optional: the ``bench`` tox
environment installs Apache Burr and LangGraph; without them their lines say skipped.

- ``theus.run_strict`` / ``theus.run_fast``: ``engine.run`` of a ``@process`` with that
  contract (strict: guards, transaction, audit).
- ``theus.workflow_step``: one ``flux: while`` iteration through the engine (condition
  over the live state + the process), the analogue of a graph step below.
- ``burr.step``: ``Application.step()`` of an action declaring ``reads``/``writes``
  (Burr picks the next action through its transition, runs it, applies the state).
- ``langgraph.loop_step``: one node step inside a compiled ``StateGraph`` looping on a
  conditional edge (one ``invoke`` of many steps, divided by their number).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import _timing as t

from theus import TheusEngine, process

LOOP_STEPS = 2_000

WORKFLOW = """
steps:
  - flux: while
    condition: "domain.counter < domain.limit"
    do: [step]
"""


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def step(ctx):  # type: ignore[no-untyped-def]
    ctx.domain.counter = ctx.domain.counter + 1


def theus_figures() -> dict[str, float]:
    figures = {}
    for strict in (True, False):
        engine = TheusEngine({"domain": {"counter": 0, "limit": 0}}, strict_mode=strict)
        engine.register(step)
        label = "strict" if strict else "fast"
        figures[f"theus.run_{label}"] = t.per_call(lambda e=engine: e.run("step"))
    engine = TheusEngine({"domain": {"counter": 0, "limit": 0}})
    engine.register(step)

    def loop() -> None:
        limit = engine.state.get("domain.counter") + LOOP_STEPS
        engine.compare_and_swap(engine.state.version, {"domain.limit": limit})
        engine.run_workflow(WORKFLOW)

    figures["theus.workflow_step"] = t.samples(loop, repeat=5) / LOOP_STEPS
    return figures


def burr_step() -> float | None:
    try:
        from burr.core import ApplicationBuilder, State, action
    except ImportError:
        return None

    @action(reads=["counter"], writes=["counter"])
    def bump(state: State) -> State:
        return state.update(counter=state["counter"] + 1)

    app = (
        ApplicationBuilder()
        .with_actions(bump=bump)
        .with_transitions(("bump", "bump"))
        .with_state(counter=0)
        .with_entrypoint("bump")
        .build()
    )
    return t.per_call(app.step)


def langgraph_loop_step() -> float | None:
    try:
        from langgraph.graph import END, START, StateGraph
    except ImportError:
        return None
    from typing import TypedDict

    class Counter(TypedDict):
        counter: int
        limit: int

    def bump(state: Counter) -> dict[str, Any]:
        return {"counter": state["counter"] + 1}

    graph = StateGraph(Counter)
    graph.add_node("bump", bump)
    graph.add_edge(START, "bump")
    graph.add_conditional_edges("bump", lambda s: "bump" if s["counter"] < s["limit"] else END)
    app = graph.compile()

    def loop() -> None:
        app.invoke({"counter": 0, "limit": LOOP_STEPS}, {"recursion_limit": LOOP_STEPS + 10})

    return t.samples(loop, repeat=5) / LOOP_STEPS


def main() -> None:
    t.report_baseline()
    ours = theus_figures()
    for name, seconds in ours.items():
        t.report(name, seconds)
    alternatives = {"burr.step": burr_step(), "langgraph.loop_step": langgraph_loop_step()}
    for name, seconds in alternatives.items():
        if seconds is None:
            print(f"# {name}: skipped ({name.split('.')[0]} is not installed)", flush=True)
            continue
        t.report(name, seconds)
        for ours_name in ("theus.run_strict", "theus.workflow_step"):
            t.report_value(f"{name}_vs_{ours_name}", seconds / ours[ours_name], "x")


if __name__ == "__main__":
    main()
