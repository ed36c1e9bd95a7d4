"""Render a workflow as a Mermaid flowchart (``flux graph`` prints this).

Shapes: process ``["name"]``, ``if``/``while`` decisions ``{"..."}`` with ``true``/
``false`` edges (a ``while`` body loops back to its decision), ``wait`` hexagons,
custom kinds parallelograms, and ``run`` blocks as subgraphs. Every node id is derived
from its step path, so a diagram is stable for a given workflow.
"""

from __future__ import annotations

import re

from ._ir import CustomStep, IfStep, ProcessStep, RunStep, Step, WaitStep, WhileStep, Workflow

__all__ = ["to_mermaid"]

Exits = list[tuple[str, str | None]]
_ESCAPES = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}


def _label(text: str) -> str:
    flat = " ".join(text.split())
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in flat) + '"'


def _node_id(path: str) -> str:
    return "s_" + re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")


class _Renderer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.indent = "    "

    def add(self, line: str) -> None:
        self.lines.append(self.indent + line)

    def connect(self, exits: Exits, target: str) -> None:
        for source, label in exits:
            arrow = f"-->|{label}|" if label else "-->"
            self.add(f"{source} {arrow} {target}")

    def block(self, steps: tuple[Step, ...], prefix: str, exits: Exits) -> Exits:
        for index, step in enumerate(steps):
            exits = self.step(step, f"{prefix}[{index}]", exits)
        return exits

    def step(self, step: Step, path: str, exits: Exits) -> Exits:
        node = _node_id(path)
        if isinstance(step, ProcessStep):
            self.add(f"{node}[{_label(step.name)}]")
        elif isinstance(step, WaitStep):
            self.add(f"{node}{{{{{_label('wait until ' + step.until.text)}}}}}")
        elif isinstance(step, CustomStep):
            self.add(f"{node}[/{_label(step.kind)}/]")
        elif isinstance(step, IfStep):
            self.add(f"{node}{{{_label('if ' + step.condition.text)}}}")
            self.connect(exits, node)
            then_exits = self.block(step.then, f"{path}.then", [(node, "true")])
            else_exits = self.block(step.else_, f"{path}.else", [(node, "false")])
            return then_exits + else_exits
        elif isinstance(step, WhileStep):
            self.add(f"{node}{{{_label('while ' + step.condition.text)}}}")
            self.connect(exits, node)
            body_exits = self.block(step.do, f"{path}.do", [(node, "true")])
            self.connect(body_exits, node)
            return [(node, "false")]
        elif isinstance(step, RunStep):
            self.add(f"subgraph {node} [{_label('run ' + path)}]")
            self.indent += "    "
            self.add("direction TB")
            inner = self.block(step.steps, f"{path}.steps", exits)
            self.indent = self.indent[:-4]
            self.add("end")
            return inner
        self.connect(exits, node)
        return [(node, None)]


def to_mermaid(workflow: Workflow, *, direction: str = "TD") -> str:
    """The workflow as Mermaid ``flowchart`` text (ends with a newline)."""
    if direction not in ("TD", "TB", "BT", "LR", "RL"):
        raise ValueError(f"direction must be one of TD, TB, BT, LR, RL, not {direction!r}")
    renderer = _Renderer()
    renderer.lines.append(f"flowchart {direction}")
    if workflow.name:
        renderer.add(f"%% {' '.join(workflow.name.split())}")
    renderer.add('flux_start(["start"])')
    exits = renderer.block(workflow.steps, "steps", [("flux_start", None)])
    renderer.add('flux_end(["end"])')
    renderer.connect(exits, "flux_end")
    return "\n".join(renderer.lines) + "\n"
