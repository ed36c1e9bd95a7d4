"""``FluxRunner``: a workflow, its executor and the lifecycle of its runs.

Theory of operation:
- The workflow is flattened once (``_program``); each run interprets it with the one
  coroutine ``_interpreter.execute``, shared by ``run`` (sync) and ``arun`` (async):
  ``run`` drives it with a single ``send(None)``. In sync mode nothing inside it ever
  suspends: an awaitable returned by a step is completed on a private event loop
  (``asyncio.Runner``) by ``_wait_io`` instead; in async mode it is awaited. Either way
  the FSM shows RUNNING -> WAITING_IO -> RUNNING around it.
- One run at a time per runner (``_start`` claims it, ``_finish`` releases it and moves
  the FSM to COMPLETE, PAUSED or FAILED); a runner may be reused for any number of runs:
  each run first returns the FSM to PENDING (observers see it), then RUNNING.
- Positions: after each completed process, custom or passed ``wait`` step the run is at
  a ``Position`` (step path, loop counters, ops so far, workflow fingerprint). It is only
  built (``_make_position``) when someone asks (``on_step_done``, a ``flux_step_end``
  hook, ``step_position``, a pause or a failure), so a plain run allocates nothing per
  step. ``run(ctx, resume_from=position)`` continues with the first step after it (at the
  wait step itself for a paused position; ``_resume_point`` checks and maps it).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import pluggy

from ._fsm import Observer, RunState, StateMachine
from ._interpreter import execute
from ._ir import Workflow
from ._plugins import make_plugin_manager
from ._position import Position
from ._program import WAIT, compile_program
from ._run_support import DEFAULT_MAX_OPS, PrivateLoop, resolve_max_ops
from .exceptions import FluxError

__all__ = ["DEFAULT_MAX_OPS", "FluxRunner"]


class FluxRunner:
    """Runs a ``Workflow`` with ``executor(name)`` executing each process step.

    ``max_ops`` bounds the operations of one run (argument, else ``THEUS_MAX_LOOPS``,
    else 10,000). ``on_step_done(position)`` is called after every completed process,
    custom or passed ``wait`` step. ``plugins`` are registered on ``.plugin_manager``
    (entry points of the group ``theus_flux`` too, unless
    ``THEUS_DISABLE_PLUGIN_AUTOLOAD=1``). ``plugin_manager=`` (instead of ``plugins``)
    shares one made by :func:`make_plugin_manager` between runners: making a manager
    costs far more than a short run.
    """

    def __init__(
        self,
        workflow: Workflow,
        executor: Callable[[str], Any],
        max_ops: int | None = None,
        plugins: Iterable[object] = (),
        *,
        on_step_done: Callable[[Position], object] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> None:
        if not isinstance(workflow, Workflow):
            raise TypeError(f"expected a Workflow, not {type(workflow).__name__}")
        if not callable(executor):
            raise TypeError("executor must be callable")
        self.workflow = workflow
        self.executor = executor
        self.max_ops = resolve_max_ops(max_ops)
        self.on_step_done = on_step_done
        if plugin_manager is None:
            plugin_manager = make_plugin_manager(plugins)
        elif plugins:
            raise TypeError("pass plugins= or plugin_manager=, not both")
        self.plugin_manager: pluggy.PluginManager = plugin_manager
        self._program = compile_program(workflow)
        self._fsm = StateMachine()
        self._claim = threading.Lock()
        self._busy = False
        self._error: BaseException | None = None
        self._position: Position | None = None
        # live state of the current run, read by ``step_position``
        self._pc = -1
        self._ops = 0
        self._counters: list[int] = []
        self._io = PrivateLoop()

    # ------------------------------------------------------------------ public API
    @property
    def state(self) -> RunState:
        return self._fsm.state

    @property
    def error(self) -> BaseException | None:
        """What failed the latest run (``None`` unless it ended FAILED)."""
        return self._error

    @property
    def position(self) -> Position | None:
        """Where the latest run stands: after its last completed step, or at the wait
        step it paused on (``None`` if it completed no step)."""
        return self._position

    @property
    def step_position(self) -> Position | None:
        """While a process or custom step runs (e.g. read inside the executor): the
        position the run will be at once that step completes, so it can be committed
        atomically with the step's own effects. ``None`` outside a step."""
        pc = self._pc
        if pc < 0:
            return None
        return self._make_position(pc, self._counters, self._ops)

    def add_observer(self, fn: Observer) -> Callable[[], None]:
        """Call ``fn(old_state, new_state, step_path)`` on every transition; returns a
        function that removes it again."""
        self._fsm.observers.append(fn)

        def remove() -> None:
            if fn in self._fsm.observers:
                self._fsm.observers.remove(fn)

        return remove

    def run(self, ctx: Any, *, resume_from: Position | None = None) -> list[str]:
        """Run the workflow synchronously; returns the process names executed, in order.

        Raises ``FluxStepError`` / ``FluxConditionError`` / ``FluxLimitExceeded`` (state
        FAILED) or ``FluxPaused`` (state PAUSED).
        """
        coro = execute(self, ctx, True, resume_from)
        try:
            coro.send(None)
        except StopIteration as stop:
            return cast(list[str], stop.value)
        coro.close()  # pragma: no cover - sync mode never suspends
        raise RuntimeError("internal error: a synchronous flux run suspended")

    async def arun(self, ctx: Any, *, resume_from: Position | None = None) -> list[str]:
        """Run the workflow on the running event loop, awaiting async steps.

        Cancellation leaves the runner FAILED with the ``CancelledError`` as ``.error``.
        """
        return await execute(self, ctx, False, resume_from)

    # ------------------------------------------------------------------ internals
    # (called by ``_interpreter.execute``)
    def _make_position(
        self, pc: int, counters: list[int], ops: int, waiting: bool = False
    ) -> Position:
        prog = self._program
        slots = prog.loops[pc]
        loops = tuple([counters[slot] for slot in slots]) if slots else ()
        return Position(prog.paths[pc], loops, ops, waiting, prog.fingerprint)

    def _resume_point(self, pos: Position, counters: list[int]) -> tuple[int, int]:
        if not isinstance(pos, Position):
            raise TypeError(f"resume_from must be a Position, not {type(pos).__name__}")
        prog = self._program
        if pos.workflow and pos.workflow != prog.fingerprint:
            raise FluxError(
                f"cannot resume: position {pos.step_path} belongs to workflow "
                f"{pos.workflow}, not {prog.fingerprint} (the workflow changed)"
            )
        pc = prog.leaf_pc.get(pos.step_path)
        if pc is None:
            raise FluxError(f"cannot resume: no process, custom or wait step at {pos.step_path}")
        if pos.waiting and prog.code[pc][0] != WAIT:
            raise FluxError(f"cannot resume: {pos.step_path} is not a wait step")
        slots = prog.loops[pc]
        if len(pos.loops) != len(slots):
            raise FluxError(
                f"cannot resume: {pos.step_path} is inside {len(slots)} loop(s), "
                f"the position has {len(pos.loops)} counter(s)"
            )
        for slot, count in zip(slots, pos.loops, strict=True):
            counters[slot] = count
        return (pc if pos.waiting else pc + 1), pos.ops

    def _start(self) -> None:
        with self._claim:
            if self._busy:
                raise FluxError("this runner is already running a workflow (one run at a time)")
            self._busy = True
        try:
            if self._fsm.state is not RunState.PENDING:
                self._fsm.transition(RunState.PENDING)
            self._error = None
            self._position = None
            self._fsm.transition(RunState.RUNNING)
        except BaseException:
            self._busy = False
            raise

    async def _wait_io(self, awaitable: Awaitable[Any], sync: bool, path: str) -> Any:
        self._fsm.transition(RunState.WAITING_IO, path)
        result = self._io.run(awaitable) if sync else await awaitable
        self._fsm.transition(RunState.RUNNING, path)
        return result

    def _hooks(self) -> tuple[Any, Any]:
        hook = self.plugin_manager.hook
        start = hook.flux_step_start if hook.flux_step_start.get_hookimpls() else None
        end = hook.flux_step_end if hook.flux_step_end.get_hookimpls() else None
        return start, end

    def _finish(self, state: RunState, step_path: str | None) -> None:
        try:
            self._io.close()
        finally:
            self._busy = False
            self._fsm.transition(state, step_path)
