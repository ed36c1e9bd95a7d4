from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest

from theus_flux import FluxError, FluxRunner, FluxStepError, RunState, Workflow

S = RunState

WF = Workflow.from_yaml(
    "steps:\n"
    "  - sync_a\n"
    "  - async_b\n"
    "  - flux: while\n"
    "    condition: domain.n > 0\n"
    "    do: [async_dec]\n"
    "  - sync_c\n"
)


class Recorder:
    def __init__(self) -> None:
        self.ctx: dict[str, Any] = {"domain": {"n": 2}}
        self.log: list[str] = []

    def __call__(self, name: str) -> Awaitable[None] | None:
        if name.startswith("sync"):
            self.log.append(name)
            return None
        return self.step(name)

    async def step(self, name: str) -> None:
        await asyncio.sleep(0)
        if name == "async_dec":
            self.ctx["domain"]["n"] -= 1
        self.log.append(name)


def _observe(runner: FluxRunner) -> list[tuple[RunState, RunState, str | None]]:
    seen: list[tuple[RunState, RunState, str | None]] = []
    runner.add_observer(lambda old, new, path: seen.append((old, new, path)))
    return seen


def test_arun_awaits_async_steps_and_runs_sync_ones_inline() -> None:
    rec = Recorder()
    runner = FluxRunner(WF, rec)
    seen = _observe(runner)
    result = asyncio.run(runner.arun(rec.ctx))
    expected = ["sync_a", "async_b", "async_dec", "async_dec", "sync_c"]
    assert result == expected and rec.log == expected
    assert runner.state is S.COMPLETE
    assert seen == [
        (S.PENDING, S.RUNNING, None),
        (S.RUNNING, S.WAITING_IO, "steps[1]"),
        (S.WAITING_IO, S.RUNNING, "steps[1]"),
        (S.RUNNING, S.WAITING_IO, "steps[2].do[0]"),
        (S.WAITING_IO, S.RUNNING, "steps[2].do[0]"),
        (S.RUNNING, S.WAITING_IO, "steps[2].do[0]"),
        (S.WAITING_IO, S.RUNNING, "steps[2].do[0]"),
        (S.RUNNING, S.COMPLETE, None),
    ]


def test_state_is_waiting_io_while_a_step_is_awaited() -> None:
    states: list[RunState] = []
    runner: FluxRunner

    async def step(name: str) -> None:
        states.append(runner.state)

    runner = FluxRunner(Workflow.from_yaml("steps: [a]"), step)
    asyncio.run(runner.arun({}))
    assert states == [S.WAITING_IO]


def test_sync_run_completes_async_steps_on_a_private_loop() -> None:
    rec = Recorder()
    runner = FluxRunner(WF, rec)
    seen = _observe(runner)
    assert runner.run(rec.ctx) == ["sync_a", "async_b", "async_dec", "async_dec", "sync_c"]
    assert (S.RUNNING, S.WAITING_IO, "steps[1]") in seen
    assert not runner._io.active  # the private loop is closed after the run


def test_arun_accepts_any_awaitable() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()

        def executor(name: str) -> asyncio.Future[int]:
            fut: asyncio.Future[int] = loop.create_future()
            loop.call_soon(fut.set_result, 1)
            return fut

        return await FluxRunner(Workflow.from_yaml("steps: [a, b]"), executor).arun({})

    assert asyncio.run(main()) == ["a", "b"]


def test_async_step_failure_carries_the_path() -> None:
    async def step(name: str) -> None:
        await asyncio.sleep(0)
        if name == "bad":
            raise ValueError("async boom")

    runner = FluxRunner(Workflow.from_yaml("steps: [ok, {flux: run, steps: [bad]}]"), step)
    seen = _observe(runner)
    with pytest.raises(FluxStepError) as info:
        asyncio.run(runner.arun({}))
    assert info.value.step_path == "steps[1].steps[0]"
    assert isinstance(info.value.__cause__, ValueError)
    assert runner.state is S.FAILED
    assert seen[-1] == (S.WAITING_IO, S.FAILED, "steps[1].steps[0]")


def test_cancellation_leaves_the_runner_failed_with_the_cause() -> None:
    started = asyncio.Event

    async def main() -> FluxRunner:
        entered = started()

        async def step(name: str) -> None:
            entered.set()
            await asyncio.Event().wait()  # never set

        runner = FluxRunner(Workflow.from_yaml("steps: [a, b]"), step)
        seen = _observe(runner)
        task = asyncio.create_task(runner.arun({}))
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert seen[-1] == (S.WAITING_IO, S.FAILED, "steps[0]")
        return runner

    runner = asyncio.run(main())
    assert runner.state is S.FAILED
    assert isinstance(runner.error, asyncio.CancelledError)
    assert runner.position is None
    # and the runner can run again afterwards
    runner.executor = lambda name: None
    assert runner.run({}) == ["a", "b"]


def test_cancellation_in_a_loop_reports_the_last_completed_position() -> None:
    async def main() -> FluxRunner:
        calls = 0
        gate = asyncio.Event()

        async def step(name: str) -> None:
            nonlocal calls
            calls += 1
            if calls == 3:
                gate.set()
                await asyncio.Event().wait()

        text = "steps:\n  - flux: while\n    condition: 'True'\n    do: [tick]\n"
        runner = FluxRunner(Workflow.from_yaml(text), step)
        task = asyncio.create_task(runner.arun({}))
        await gate.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return runner

    runner = asyncio.run(main())
    assert runner.state is S.FAILED
    assert runner.position is not None
    assert runner.position.step_path == "steps[0].do[0]" and runner.position.loops == (2,)


def test_sync_run_inside_a_running_loop_refuses_async_steps() -> None:
    async def step(name: str) -> None:
        return None

    async def main() -> None:
        runner = FluxRunner(Workflow.from_yaml("steps: [a]"), step)
        with pytest.raises(FluxStepError) as info:
            runner.run({})
        assert isinstance(info.value.__cause__, FluxError)
        assert "arun" in str(info.value.__cause__)
        assert runner.state is S.FAILED
        # sync steps are fine there
        assert FluxRunner(Workflow.from_yaml("steps: [a]"), lambda n: None).run({}) == ["a"]

    asyncio.run(main())


def test_concurrent_aruns_of_one_runner_are_refused() -> None:
    async def main() -> list[Any]:
        async def step(name: str) -> None:
            await asyncio.sleep(0.01)

        runner = FluxRunner(Workflow.from_yaml("steps: [a]"), step)
        return await asyncio.gather(runner.arun({}), runner.arun({}), return_exceptions=True)

    first, second = asyncio.run(main())
    assert first == ["a"]
    assert isinstance(second, FluxError) and "already running" in str(second)


def test_many_runners_interleave_on_one_loop() -> None:
    order: list[str] = []

    async def main() -> list[list[str]]:
        def make(i: int) -> FluxRunner:
            async def step(name: str) -> None:
                order.append(f"{i}:{name}")
                await asyncio.sleep(0)

            return FluxRunner(Workflow.from_yaml("steps: [x, y]"), step)

        return await asyncio.gather(*(make(i).arun({}) for i in range(5)))

    assert asyncio.run(main()) == [["x", "y"]] * 5
    assert order[:5] == [f"{i}:x" for i in range(5)]  # all started before any finished
