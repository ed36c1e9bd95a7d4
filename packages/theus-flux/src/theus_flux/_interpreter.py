"""The interpreter of ``FluxRunner``: one run of a compiled program, as one flat loop.

Theory of operation:
- ``execute(runner, ctx, sync, resume)`` is the coroutine behind both ``FluxRunner.run``
  and ``FluxRunner.arun``; with ``sync`` it never suspends (an awaitable returned by a
  step is completed by ``runner._wait_io`` on the runner's private loop instead).
- Counting: every executed step (process, if, while, run, wait, custom) and every loop
  iteration (a ``while`` test that is true) counts one operation; more than ``max_ops``
  fails the run with ``FluxLimitExceeded``.
- While a process or custom step runs, ``runner._pc`` / ``runner._ops`` name it (read by
  ``step_position``); ``-1`` otherwise. The last completed step is kept as plain locals
  (pc, counters, ops) and turned into a ``Position`` only when needed: for ``on_step_done``
  or a ``flux_step_end`` hook, a pause, a failure and the end of the run.
- Ending: COMPLETE, PAUSED (``FluxPaused`` at the wait step) or FAILED (the error and the
  last completed position are recorded; end hooks fire for the failing step and every
  structure around it, innermost first), each through ``runner._finish``.
- Hot path: hook callers are looked up once per run (only hooks with implementations are
  called); conditions are closures called directly; instruction tuples are unpacked once.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._fsm import RunState
from ._position import Position
from ._program import END, IF, JUMP, LOOP, PROC, RUN, TEST, WAIT, Program
from .exceptions import FluxError, FluxLimitExceeded, FluxPaused, FluxStepError

if TYPE_CHECKING:
    from ._runner import FluxRunner

__all__ = ["execute"]

_isawaitable = inspect.isawaitable


async def execute(runner: FluxRunner, ctx: Any, sync: bool, resume: Position | None) -> list[str]:
    """One run of ``runner``'s program against ``ctx``; returns the process names executed."""
    prog = runner._program
    counters = [0] * prog.n_loops
    if resume is not None:
        pc, ops = runner._resume_point(resume, counters)
    else:
        pc, ops = 0, 0
    start_hook, end_hook = runner._hooks()
    runner._start()
    code = prog.code
    paths = prog.paths
    n = len(code)
    executor = runner.executor
    max_ops = runner.max_ops
    runner._counters = counters
    has_loops = prog.n_loops > 0
    done_counters = list(counters)
    done_pc = -1
    done_ops = ops
    executed: list[str] = []
    append = executed.append
    on_done = runner.on_step_done
    report = on_done is not None or end_hook is not None
    try:
        while pc < n:
            op, arg, target, aux = code[pc]
            if op == PROC:
                ops += 1
                if ops > max_ops:
                    raise FluxLimitExceeded(max_ops, paths[pc])
                if start_hook is not None:
                    start_hook(step_path=paths[pc], kind="process", name=arg)
                runner._pc = pc
                runner._ops = ops
                try:
                    result = executor(arg)
                    if result is not None and _isawaitable(result):
                        await runner._wait_io(result, sync, paths[pc])
                except Exception as exc:
                    raise FluxStepError(
                        paths[pc], arg, f"{paths[pc]}: step {arg!r} failed: {exc!r}"
                    ) from exc
                runner._pc = -1
                append(arg)
                done_pc = pc
                done_ops = ops
                if has_loops:
                    done_counters[:] = counters
                if report:
                    _report(runner, pc, counters, ops, end_hook, on_done)
                pc += 1
            elif op == TEST:
                try:
                    if not arg.fn(ctx):
                        pc = target
                        continue
                except Exception as exc:
                    raise arg.error(exc, paths[pc]) from exc
                ops += 1
                if ops > max_ops:
                    raise FluxLimitExceeded(max_ops, paths[pc])
                counters[aux] += 1
                pc += 1
            elif op == JUMP:
                pc = target
            elif op == IF:
                ops += 1
                if ops > max_ops:
                    raise FluxLimitExceeded(max_ops, paths[pc])
                if start_hook is not None:
                    start_hook(step_path=paths[pc], kind="if", name=None)
                try:
                    pc = pc + 1 if arg.fn(ctx) else target
                except Exception as exc:
                    raise arg.error(exc, paths[pc]) from exc
            elif op == END:
                if end_hook is not None:
                    kind = prog.steps[pc].kind
                    end_hook(step_path=paths[pc], kind=kind, name=None, error=None, position=None)
                pc += 1
            elif op == LOOP:
                ops += 1
                if ops > max_ops:
                    raise FluxLimitExceeded(max_ops, paths[pc])
                if start_hook is not None:
                    start_hook(step_path=paths[pc], kind="while", name=None)
                counters[aux] = 0
                pc += 1
            elif op == RUN:
                ops += 1
                if ops > max_ops:
                    raise FluxLimitExceeded(max_ops, paths[pc])
                if start_hook is not None:
                    start_hook(step_path=paths[pc], kind="run", name=None)
                pc += 1
            elif op == WAIT:
                if ops + 1 > max_ops:
                    raise FluxLimitExceeded(max_ops, paths[pc])
                if start_hook is not None:
                    start_hook(step_path=paths[pc], kind="wait", name=None)
                try:
                    ready = bool(arg.fn(ctx))
                except Exception as exc:
                    raise arg.error(exc, paths[pc]) from exc
                if not ready:
                    here = runner._make_position(pc, counters, ops, waiting=True)
                    raise FluxPaused(here, arg.text, executed)
                ops += 1
                done_pc, done_ops = pc, ops
                if has_loops:
                    done_counters[:] = counters
                if report:
                    _report(runner, pc, counters, ops, end_hook, on_done)
                pc += 1
            else:  # CUSTOM
                ops += 1
                if ops > max_ops:
                    raise FluxLimitExceeded(max_ops, paths[pc])
                if start_hook is not None:
                    start_hook(step_path=paths[pc], kind=arg.kind, name=None)
                runner._pc = pc
                runner._ops = ops
                try:
                    result = arg.impl.run(ctx, arg.config, executor)
                    if result is not None and _isawaitable(result):
                        await runner._wait_io(result, sync, paths[pc])
                except Exception as exc:
                    raise FluxStepError(
                        paths[pc], None, f"{paths[pc]}: '{arg.kind}' step failed: {exc!r}"
                    ) from exc
                runner._pc = -1
                done_pc, done_ops = pc, ops
                if has_loops:
                    done_counters[:] = counters
                if report:
                    _report(runner, pc, counters, ops, end_hook, on_done)
                pc += 1
    except FluxPaused as paused:
        runner._position = paused.position
        runner._finish(RunState.PAUSED, paused.step_path)
        raise
    except BaseException as exc:
        runner._pc = -1
        failed_at = paths[pc] if pc < n else None
        position = (
            runner._make_position(done_pc, done_counters, done_ops) if done_pc >= 0 else resume
        )
        runner._position = position
        if isinstance(exc, FluxError):
            exc.position = position
        runner._error = exc
        try:
            if end_hook is not None and pc < n:
                _fail_hooks(prog, end_hook, pc, exc)
        finally:
            runner._finish(RunState.FAILED, failed_at)
        raise
    if done_pc >= 0:
        runner._position = runner._make_position(done_pc, done_counters, done_ops)
    else:
        runner._position = resume
    runner._finish(RunState.COMPLETE, None)
    return executed


def _report(
    runner: FluxRunner,
    pc: int,
    counters: list[int],
    ops: int,
    end_hook: Any,
    on_done: Callable[[Position], object] | None,
) -> None:
    position = runner._make_position(pc, counters, ops)
    if end_hook is not None:
        prog = runner._program
        step = prog.steps[pc]
        name = prog.code[pc][1] if prog.code[pc][0] == PROC else None
        end_hook(step_path=prog.paths[pc], kind=step.kind, name=name, error=None, position=position)
    if on_done is not None:
        on_done(position)


def _fail_hooks(prog: Program, end_hook: Any, pc: int, exc: BaseException) -> None:
    owner = prog.owner[pc]
    for start in (owner, *prog.parents[owner]):
        step = prog.steps[start]
        name = prog.code[start][1] if prog.code[start][0] == PROC else None
        end_hook(step_path=prog.paths[start], kind=step.kind, name=name, error=exc, position=None)
