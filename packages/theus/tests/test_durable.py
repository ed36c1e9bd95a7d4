"""Durable engines: restore, crash-safe resumable workflows, human in the loop, history."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from theus import TheusEngine, TheusError, process
from theus_flux import FluxPaused, FluxStepError
from theus_signals import OutboxMessage
from theus_state import JournalLocked, SerializationError, VersionNotFound
from theus_state import hookimpl as state_hookimpl


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def step(ctx):  # type: ignore[no-untyped-def]
    n = ctx.domain.counter + 1
    ctx.outbox.add(OutboxMessage("step", n, key=f"step-{n}"))
    return n


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def explode(ctx):  # type: ignore[no-untyped-def]
    ctx.domain.counter = 999
    raise RuntimeError("boom")


@pytest.mark.parametrize("strict", [True, False])
def test_durable_engine_restores_state_and_outbox(tmp_path: Path, strict: bool) -> None:
    db = tmp_path / "app.db"
    with TheusEngine({"domain": {"counter": 0}}, durable=db, strict_mode=strict) as engine:
        engine.register(step)
        for _ in range(3):
            engine.run(step)
        assert engine.durable
    with TheusEngine.open(db) as engine:
        assert engine.state.version == 3
        assert engine.state.get("domain.counter") == 3
        assert [m.key for m in engine.outbox.pending()] == ["step-1", "step-2", "step-3"]
        seen: list[Any] = []
        assert engine.relay(seen.append).run_once() == 3
    with TheusEngine.open(db) as engine:
        assert len(engine.outbox) == 0  # delivery was durable too
        assert [r.version for r in engine.history("domain.counter")] == [1, 2, 3]
        assert engine.at(1).get("domain.counter") == 1


@pytest.mark.parametrize("strict", [True, False])
def test_failing_process_writes_nothing_to_the_journal(tmp_path: Path, strict: bool) -> None:
    db = tmp_path / "app.db"
    with TheusEngine({"domain": {"counter": 0}}, durable=db, strict_mode=strict) as engine:
        engine.register(explode)
        with pytest.raises(RuntimeError):
            engine.run(explode)
        rows = engine.store.journal.connection.execute(  # type: ignore[attr-defined]
            "SELECT COUNT(*) FROM theus_commits"
        ).fetchone()[0]
        assert rows == 0
        assert engine.history() == []
    with TheusEngine.open(db) as engine:
        assert engine.state.version == 0 and engine.state.get("domain.counter") == 0


def test_unserializable_value_leaves_memory_and_file_unchanged(tmp_path: Path) -> None:
    class Local:
        pass

    @process(outputs=["domain.obj", "domain.counter"])
    def bad(ctx):  # type: ignore[no-untyped-def]
        return {"obj": Local(), "counter": 5}

    db = tmp_path / "app.db"
    with TheusEngine({"domain": {"counter": 0}}, durable=db) as engine:
        engine.register(bad)
        with pytest.raises(SerializationError, match="domain.obj"):
            engine.run(bad)
        assert engine.state.version == 0
    with TheusEngine.open(db) as engine:
        assert engine.state.to_dict() == {"domain": {"counter": 0}, "global": {}}


def test_second_writer_process_gets_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with TheusEngine({"domain": {"counter": 0}}, durable=db):
        code = (
            "import sys\nfrom theus import TheusEngine\nfrom theus_state import JournalLocked\n"
            "try:\n    TheusEngine.open(sys.argv[1])\nexcept JournalLocked as e:\n"
            "    print('locked', e.holder)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(db)], capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == ["locked", str(os.getpid())]
        with pytest.raises(JournalLocked):
            TheusEngine.open(db)


def test_bad_durable_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        TheusEngine(durable=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a journal"):
        TheusEngine.open()
    with pytest.raises(TypeError, match="either durable"):
        TheusEngine(durable=tmp_path / "x.db", journal=object())
    db = tmp_path / "app.db"
    TheusEngine({"domain": {}}, durable=db).close()
    with pytest.raises(TheusError, match=r"already holds a history.*TheusEngine\.open"):
        TheusEngine({"domain": {}}, durable=db)
    TheusEngine.open(db).close()  # the failed attempt released its file lock
    with pytest.raises(Exception, match="unknown key"):
        TheusEngine.open(db, audit={"processes": {"p": {"inputs": [{"field": "x", "mni": 1}]}}})
    with pytest.raises(Exception, match="is empty"):
        TheusEngine.open(tmp_path / "fresh.db")
    TheusEngine.open(db).close()  # neither left the journal locked


@pytest.mark.parametrize("strict", [True, False])
def test_a_failed_durable_run_resumes_without_repeating_a_step(
    tmp_path: Path, strict: bool, fail_after_commit: Any
) -> None:
    # a run fails inside step 5's body, then right behind step 7's commit; each time
    # the engine is closed, reopened and the run resumed: every step commits exactly
    # once, with its outbox message (the run position commits with the step)
    db = tmp_path / "app.db"
    workflow = "steps: [" + ", ".join(["flaky"] * 10) + "]"  # a step run twice would show
    fail_in_body = [5]

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def flaky(ctx):  # type: ignore[no-untyped-def]
        n = ctx.domain.counter + 1
        ctx.outbox.add(OutboxMessage("step", n, key=f"step-{n}"))
        if n == fail_in_body[0]:
            raise RuntimeError("boom")
        ctx.domain.counter = n

    with TheusEngine({"domain": {"counter": 0}}, durable=db, strict_mode=strict) as engine:
        engine.register(flaky)
        with pytest.raises(FluxStepError, match="boom"):
            engine.run_workflow(workflow, run_id="loop")
        assert engine.state.get("domain.counter") == 4
    fail_in_body[0] = 0
    with TheusEngine.open(db, strict_mode=strict) as engine:
        engine.register(flaky)
        engine.store.plugin_manager.register(fail_after_commit(7))
        with pytest.raises(FluxStepError, match="after commit 7"):
            engine.resume_workflow("loop")
        assert engine.state.get("domain.counter") == 7
    with TheusEngine.open(db, strict_mode=strict) as engine:
        engine.register(flaky)
        engine.resume_workflow("loop")
        assert engine.state.get("domain.counter") == 10
        assert [r.version for r in engine.history()] == list(range(1, 11))
        keys = [m.key for m in engine.outbox.pending(limit=100)]
        assert keys == [f"step-{n}" for n in range(1, 11)]
        assert engine.workflow_runs()[0].status == "complete"


def test_time_travel_and_fork_through_the_engine() -> None:
    engine = TheusEngine({"domain": {"counter": 0}})
    engine.register(step)
    for _ in range(5):
        engine.run(step)
    assert [engine.at(v).get("domain.counter") for v in range(6)] == [0, 1, 2, 3, 4, 5]
    fork = engine.fork(2)
    fork.run("step")
    assert fork.state.get("domain.counter") == 3 and fork.state.version == 3
    assert engine.state.get("domain.counter") == 5
    with pytest.raises(VersionNotFound):
        engine.at(50)


HITL = """
steps:
  - prepare
  - flux: wait
    until: "signal.get('domain.cmd_approve', False)"
  - finish
"""


@process(outputs=["domain.stage"])
def prepare(ctx):  # type: ignore[no-untyped-def]
    return "prepared"


@process(inputs=["domain.stage"], outputs=["domain.stage"])
def finish(ctx):  # type: ignore[no-untyped-def]
    return ctx.domain.stage + "+finished"


def test_human_in_the_loop_in_memory() -> None:
    engine = TheusEngine({"domain": {"stage": None}})
    engine.register(prepare)
    engine.register(finish)
    with pytest.raises(FluxPaused):
        engine.run_workflow(HITL, run_id="r1")
    assert engine.state.get("domain.stage") == "prepared"
    assert engine.workflow_runs()[0].status == "paused"
    with pytest.raises(FluxPaused):
        engine.resume_workflow("r1")  # still not approved
    assert engine.resume_workflow("r1", cmd_approve=True) == ["finish"]
    assert engine.state.get("domain.stage") == "prepared+finished"
    with pytest.raises(TheusError, match="already complete"):
        engine.resume_workflow("r1")
    with pytest.raises(TheusError, match="already exists"):
        engine.run_workflow(HITL, run_id="r1")
    with pytest.raises(FluxPaused):
        engine.run_workflow(HITL, run_id="r2")
    with pytest.raises(TheusError, match="not a SIGNAL"):
        engine.resume_workflow("r2", approve=True)


PROCS = textwrap.dedent(
    """
    from theus import process
    from theus_signals import OutboxMessage

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def step(ctx):
        n = ctx.domain.counter + 1
        ctx.outbox.add(OutboxMessage("step", n, key=f"step-{n}"))
        return n

    @process(outputs=["domain.stage"])
    def prepare(ctx):
        return "prepared"

    @process(inputs=["domain.stage"], outputs=["domain.stage"])
    def finish(ctx):
        return ctx.domain.stage + "+finished"
    """
)

# The crash children's kill switches: SIGKILL inside commit KILL_IN_COMMIT (its delta row
# written, its COMMIT not) or right after commit KILL_AFTER_COMMIT (durable, the next
# not begun). Inserted where the child has built ``engine``.
KILL_HOOKS = """\
kill_in_commit = int(os.environ.get("KILL_IN_COMMIT", "0"))
kill_after = int(os.environ.get("KILL_AFTER_COMMIT", "0"))
if kill_in_commit:
    journal = engine.store.journal
    original = journal.append
    def append(version, *args):
        original(version, *args)
        if version == kill_in_commit:
            os.kill(os.getpid(), signal.SIGKILL)
    journal.append = append
if kill_after:
    from theus_state import hookimpl

    class KillAfter:
        @hookimpl
        def theus_state_commit(self, version):
            if version == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    engine.store.plugin_manager.register(KillAfter())
"""

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from theus import TheusEngine
    import procs

    db, sink_path, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    WF = (
        "steps:\\n  - flux: while\\n    condition: 'domain.counter < %d'\\n"
        "    do: [step]\\n" % steps
    )
    fresh = not Path(db).exists()
    engine = TheusEngine({"domain": {"counter": 0}}, durable=db) if fresh else TheusEngine.open(db)
    engine.register(procs.step)
    {kill_hooks}
    sink = open(sink_path, "a")
    def deliver(message):
        sink.write(json.dumps({"key": message.key, "n": message.payload}) + "\\n")
        sink.flush()
    relay = engine.relay(deliver, batch=50)
    relay.start()
    print("ready", flush=True)
    runs = {r.run_id: r for r in engine.workflow_runs()}
    if "run" not in runs:
        engine.run_workflow(WF, run_id="run")
    elif runs["run"].status != "complete":
        engine.resume_workflow("run")
    relay.stop()
    import time
    deadline = time.monotonic() + 60
    while len(engine.outbox) and time.monotonic() < deadline:
        relay.run_once()
        time.sleep(0.005)
    print("done", engine.state.get("domain.counter"), flush=True)
    engine.close()
    """
).replace("{kill_hooks}", KILL_HOOKS)


def _spawn(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "PYTHONPATH": str(tmp_path), **(env or {})}
    return subprocess.Popen(
        [sys.executable, str(tmp_path / "child.py"), *args],
        stdout=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=tmp_path,
    )


@pytest.mark.slow
def test_sigkill_crash_loop_resumes_without_repeating_or_skipping(tmp_path: Path) -> None:
    (tmp_path / "procs.py").write_text(PROCS)
    (tmp_path / "child.py").write_text(CHILD)
    db, sink = tmp_path / "run.db", tmp_path / "sink.jsonl"
    steps = 1000
    rng = random.Random(11)
    finished = False
    kills = {"timer": 0, "commit": 0, "between": 0}
    for attempt in range(60):
        if sum(kills.values()) >= 24 and kills["commit"] >= 8 and kills["between"] >= 8:
            break
        kind = ("timer", "between", "commit")[attempt % 3]
        env = {}
        target = 0
        if kind == "commit":
            target = _counter(db) + rng.randint(1, 15)
            env["KILL_IN_COMMIT"] = str(target)
        elif kind == "between":
            target = _counter(db) + rng.randint(1, 15)
            env["KILL_AFTER_COMMIT"] = str(target)
        child = _spawn(tmp_path, str(db), str(sink), str(steps), env=env)
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if kind == "timer" and line == "ready":
            try:
                child.wait(timeout=rng.uniform(0.005, 0.03))
            except subprocess.TimeoutExpired:
                os.kill(child.pid, signal.SIGKILL)
        out = child.stdout.read()
        child.wait()
        child.stdout.close()
        if child.returncode == -signal.SIGKILL:
            kills[kind] += 1
            if kind == "commit":  # killed inside commit `target`: it must not exist
                assert _counter(db) == target - 1
            elif kind == "between":  # killed right after commit `target`: it must exist
                assert _counter(db) == target
        elif "done" in out:
            finished = True
            break
    if not finished:  # finish the run in a last, uninterrupted process
        child = _spawn(tmp_path, str(db), str(sink), str(steps))
        out, _ = child.communicate(timeout=300)
        assert child.returncode == 0, out
        assert f"done {steps}" in out
    assert sum(kills.values()) >= 20 and kills["commit"] >= 8 and kills["between"] >= 8, kills
    with TheusEngine.open(db) as engine:
        assert engine.state.to_dict() == {"domain": {"counter": steps}, "global": {}}
        assert engine.state.version == steps  # no step committed twice or skipped
        history = engine.history("domain.counter")
        assert [r.changes["domain.counter"] for r in history] == list(range(1, steps + 1))
        assert engine.workflow_runs()[0].status == "complete"
    keys = [json.loads(line)["key"] for line in sink.read_text().splitlines()]
    assert set(keys) == {f"step-{n}" for n in range(1, steps + 1)}  # each at least once


def _counter(db: Path) -> int:
    if not db.exists():
        return 0
    from theus_state import SqliteJournal, Store

    j = SqliteJournal(db, readonly=True)
    try:
        return int(Store.open(j).state.get("domain.counter"))
    finally:
        j.close()


HITL_CHILD = textwrap.dedent(
    """
    import sys
    from theus import TheusEngine
    from theus_flux import FluxPaused, FluxStepError
    import procs

    db, mode = sys.argv[1], sys.argv[2]
    WF = sys.stdin.read()
    if mode == "start":
        engine = TheusEngine({"domain": {"stage": None}}, durable=db)
    else:
        engine = TheusEngine.open(db)
    engine.register(procs.prepare)
    engine.register(procs.finish)
    try:
        if mode == "start":
            engine.run_workflow(WF, run_id="approval")
        else:
            print("executed", engine.resume_workflow("approval", cmd_approve=True))
    except FluxPaused as exc:
        print("paused", exc.step_path)
    print("stage", engine.state.get("domain.stage"))
    engine.close()
    """
)


def test_human_in_the_loop_across_processes(tmp_path: Path) -> None:
    (tmp_path / "procs.py").write_text(PROCS)
    (tmp_path / "hitl.py").write_text(HITL_CHILD)
    db = tmp_path / "hitl.db"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def call(mode: str) -> str:
        out = subprocess.run(
            [sys.executable, str(tmp_path / "hitl.py"), str(db), mode],
            input=HITL,
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return out.stdout

    first = call("start")
    assert "paused steps[1]" in first and "stage prepared" in first
    second = call("resume")
    assert "executed ['finish']" in second and "stage prepared+finished" in second


def test_async_processes_commit_durably_without_blocking_the_loop(tmp_path: Path) -> None:
    import asyncio
    import threading

    threads: list[str] = []

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    async def bump(ctx):  # type: ignore[no-untyped-def]
        return ctx.domain.counter + 1

    class CommitThread:
        @state_hookimpl
        def theus_state_commit(self) -> None:
            threads.append(threading.current_thread().name)

    db = tmp_path / "async.db"
    with TheusEngine({"domain": {"counter": 0}}, durable=db, plugins=[CommitThread()]) as e:
        e.register(bump)

        async def main() -> int:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            task = asyncio.create_task(ticker())
            await asyncio.gather(*(e.execute(bump) for _ in range(20)))
            task.cancel()
            return ticks

        ticks = asyncio.run(main())
        assert e.state.get("domain.counter") == 20
        assert ticks > 20  # the loop kept running while commits waited for the disk
        assert threads and "MainThread" not in threads
    with TheusEngine.open(db) as e:
        assert e.state.get("domain.counter") == 20


PAR_PROCS = textwrap.dedent(
    """
    from theus import process

    @process(inputs=["domain.counter"], outputs=["domain.counter"], parallel=True)
    def pstep(ctx):
        return ctx.domain.counter + 1
    """
)

PAR_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path
    from theus import TheusEngine
    import pprocs

    db, steps = sys.argv[1], int(sys.argv[2])
    WF = "steps: [%s]" % ", ".join(["pstep"] * steps)  # a position per step, no loop
    options = {"executor": ThreadPoolExecutor(2)}
    if Path(db).exists():
        engine = TheusEngine.open(db, **options)
    else:
        engine = TheusEngine({"domain": {"counter": 0}}, durable=db, **options)
    engine.register(pprocs.pstep)
    {kill_hooks}
    runs = {r.run_id: r for r in engine.workflow_runs()}
    if "run" not in runs:
        engine.run_workflow(WF, run_id="run")
    elif runs["run"].status != "complete":
        engine.resume_workflow("run")
    print("done", engine.state.get("domain.counter"), flush=True)
    engine.close()
    """
).replace("{kill_hooks}", KILL_HOOKS)


@pytest.mark.slow
def test_sigkill_during_parallel_steps_of_a_durable_run(tmp_path: Path) -> None:
    """Parallel steps commit in the parent with the run position: a SIGKILL inside or
    right after such a commit, then a resume, never repeats or skips a step."""
    (tmp_path / "pprocs.py").write_text(PAR_PROCS)
    (tmp_path / "child.py").write_text(PAR_CHILD)
    db = tmp_path / "par.db"
    steps = 40
    rng = random.Random(5)
    kills = 0
    for attempt in range(12):
        kind = "KILL_IN_COMMIT" if attempt % 2 else "KILL_AFTER_COMMIT"
        target = _counter(db) + rng.randint(1, 4)
        if target > steps:
            break
        child = _spawn(tmp_path, str(db), str(steps), env={kind: str(target)})
        out, _ = child.communicate(timeout=120)
        assert child.returncode == -signal.SIGKILL, out
        kills += 1
        if kind == "KILL_IN_COMMIT":  # killed inside commit `target`: it must not exist
            assert _counter(db) == target - 1
        else:  # killed right after commit `target`: it must exist
            assert _counter(db) == target
    assert kills >= 8
    child = _spawn(tmp_path, str(db), str(steps))
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 0 and f"done {steps}" in out, out
    with TheusEngine.open(db) as engine:
        assert engine.state.get("domain.counter") == steps
        assert engine.state.version == steps  # no step committed twice or skipped
        history = engine.history("domain.counter")
        assert [r.changes["domain.counter"] for r in history] == list(range(1, steps + 1))
        assert engine.workflow_runs()[0].status == "complete"
