"""A workflow flattened into a linear program with jumps, which the runner interprets.

Theory of operation: the step tree becomes a tuple of instructions
``(opcode, arg, target, aux)`` so that the runner is one flat loop (no recursion, no
coroutine per block) and a run's position is just an instruction index plus the loop
counters. Layouts:

    process           PROC name
    if c then T else E   IF c ->else ; T... ; [JUMP ->end] ; else: E... ; end: END
    while c do B      LOOP slot ; test: TEST c ->end slot ; B... ; JUMP ->test ; end: END
    run S             RUN ; S... ; END
    wait until c      WAIT c
    custom            CUSTOM step

Per instruction the program also keeps the step path, the step, the owning step's start
instruction, its enclosing structural start instructions (innermost first, for end hooks
on failure) and the enclosing loop slots (for positions). Resuming after the leaf step at
path P continues at ``leaf_pc[P] + 1``: after the last step of a ``then`` that is the
JUMP over the ``else``, after the last step of a loop body the JUMP back to its test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._ir import CustomStep, IfStep, ProcessStep, RunStep, Step, WaitStep, WhileStep, Workflow

__all__ = ["Program", "compile_program"]

PROC, TEST, JUMP, IF, LOOP, RUN, END, WAIT, CUSTOM = range(9)
OPNAMES = ("PROC", "TEST", "JUMP", "IF", "LOOP", "RUN", "END", "WAIT", "CUSTOM")

Instruction = tuple[int, Any, int, int]


@dataclass(frozen=True, slots=True)
class Program:
    code: tuple[Instruction, ...]
    paths: tuple[str, ...]
    steps: tuple[Step, ...]
    owner: tuple[int, ...]
    parents: tuple[tuple[int, ...], ...]
    loops: tuple[tuple[int, ...], ...]
    leaf_pc: dict[str, int]
    n_loops: int
    fingerprint: str

    def dump(self) -> str:
        """A readable listing (for debugging and tests)."""
        lines = []
        for pc, (op, arg, target, aux) in enumerate(self.code):
            shown = getattr(arg, "text", arg) if arg is not None else ""
            lines.append(
                f"{pc:3} {OPNAMES[op]:6} {shown!s:20} {target:3} {aux:3}  {self.paths[pc]}"
            )
        return "\n".join(lines)


class _Builder:
    def __init__(self) -> None:
        self.code: list[Instruction] = []
        self.paths: list[str] = []
        self.steps: list[Step] = []
        self.owner: list[int] = []
        self.parents: list[tuple[int, ...]] = []
        self.loops: list[tuple[int, ...]] = []
        self.leaf_pc: dict[str, int] = {}
        self.n_loops = 0

    def emit(
        self,
        op: int,
        arg: Any,
        path: str,
        step: Step,
        owner: int,
        parents: tuple[int, ...],
        loops: tuple[int, ...],
        target: int = -1,
        aux: int = -1,
    ) -> int:
        pc = len(self.code)
        self.code.append((op, arg, target, aux))
        self.paths.append(path)
        self.steps.append(step)
        self.owner.append(pc if owner < 0 else owner)
        self.parents.append(parents)
        self.loops.append(loops)
        return pc

    def patch(self, pc: int, target: int) -> None:
        op, arg, _, aux = self.code[pc]
        self.code[pc] = (op, arg, target, aux)

    def block(
        self, steps: tuple[Step, ...], prefix: str, parents: tuple[int, ...], loops: tuple[int, ...]
    ) -> None:
        for index, step in enumerate(steps):
            self.step(step, f"{prefix}[{index}]", parents, loops)

    def step(self, step: Step, path: str, parents: tuple[int, ...], loops: tuple[int, ...]) -> None:
        def emit(
            op: int, arg: Any = None, *, owner: int = -1, target: int = -1, aux: int = -1
        ) -> int:
            return self.emit(op, arg, path, step, owner, parents, loops, target, aux)

        if isinstance(step, ProcessStep):
            self.leaf_pc[path] = emit(PROC, step.name)
        elif isinstance(step, WaitStep):
            self.leaf_pc[path] = emit(WAIT, step.until)
        elif isinstance(step, CustomStep):
            self.leaf_pc[path] = emit(CUSTOM, step)
        elif isinstance(step, IfStep):
            start = emit(IF, step.condition)
            inner = (start, *parents)
            self.block(step.then, f"{path}.then", inner, loops)
            jump = emit(JUMP, owner=start) if step.else_ else -1
            self.patch(start, len(self.code))
            self.block(step.else_, f"{path}.else", inner, loops)
            end = emit(END, owner=start, aux=start)
            if jump >= 0:
                self.patch(jump, end)
        elif isinstance(step, WhileStep):
            slot = self.n_loops
            self.n_loops += 1
            start = emit(LOOP, aux=slot)
            test = emit(TEST, step.condition, owner=start, aux=slot)
            self.block(step.do, f"{path}.do", (start, *parents), (*loops, slot))
            emit(JUMP, owner=start, target=test)
            end = emit(END, owner=start, aux=start)
            self.patch(test, end)
        elif isinstance(step, RunStep):
            start = emit(RUN)
            self.block(step.steps, f"{path}.steps", (start, *parents), loops)
            emit(END, owner=start, aux=start)
        else:  # pragma: no cover - the Step union is closed
            raise TypeError(f"not a flux step: {step!r}")


def compile_program(workflow: Workflow) -> Program:
    builder = _Builder()
    builder.block(workflow.steps, "steps", (), ())
    return Program(
        code=tuple(builder.code),
        paths=tuple(builder.paths),
        steps=tuple(builder.steps),
        owner=tuple(builder.owner),
        parents=tuple(builder.parents),
        loops=tuple(builder.loops),
        leaf_pc=builder.leaf_pc,
        n_loops=builder.n_loops,
        fingerprint=workflow.fingerprint,
    )
