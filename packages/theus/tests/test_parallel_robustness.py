"""Parallel robustness: crashes, timeouts, shared-memory hygiene, shutdown, executors."""

from __future__ import annotations

import importlib
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from theus import ParallelError, TheusEngine, _interp, process

TESTS = Path(__file__).parent
HAS_INTERPRETERS = _interp.api() is not None
DEV_SHM = Path("/dev/shm")


@pytest.fixture
def procs(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv("THEUS_POOL_SIZE", "2")
    return importlib.import_module("parallel_procs")


@pytest.fixture
def processes(procs: ModuleType, monkeypatch: pytest.MonkeyPatch) -> TheusEngine:
    monkeypatch.setenv("THEUS_USE_PROCESSES", "1")
    engine = TheusEngine({"domain": {"counter": 0}})
    for fn in (procs.pid, procs.crash, procs.nap, procs.increment):
        engine.register(fn)
    yield engine
    engine.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


@pytest.mark.parametrize("how, text", [("kill", "killed by SIGKILL"), ("exit", "code 3")])
def test_worker_crash_fails_only_its_task(processes: TheusEngine, how: str, text: str) -> None:
    engine = processes
    pool = engine.get_pool()
    assert pool.warm(120)
    before = set(pool.worker_pids())
    naps = [engine._submit_parallel(engine.processes["nap"], {"seconds": 0.3}) for _ in range(1)]
    crash = engine._submit_parallel(engine.processes["crash"], {"how": how})
    with pytest.raises(ParallelError, match=text) as info:
        crash.result(60)
    assert info.value.process == "crash"
    assert [f.result(60) for f in naps] == [0.3]  # the task on the other worker is unharmed
    # the pool replaced the dead worker and keeps serving
    assert [engine.run("increment") for _ in range(4)] == [1, 2, 3, 4]
    assert pool.warm(120)
    after = set(pool.worker_pids())
    assert len(after) == 2 and after != before
    assert not any(_alive(p) for p in before - after)


@pytest.mark.slow
def test_crash_loop_recovers(processes: TheusEngine) -> None:
    engine = processes
    for _ in range(5):
        with pytest.raises(ParallelError, match="SIGKILL"):
            engine.run("crash")
    assert engine.run("increment") == 1
    assert engine.state.version == 1


def test_worker_killed_from_outside(processes: TheusEngine) -> None:
    engine = processes
    pool = engine.get_pool()
    assert pool.warm(120)
    fut = engine._submit_parallel(engine.processes["nap"], {"seconds": 20})
    free = engine.run("pid")  # served by the other worker: the first one is napping
    busy = [p for p in pool.worker_pids() if p != free]
    assert len(busy) == 1
    os.kill(busy[0], signal.SIGKILL)
    with pytest.raises(ParallelError, match="SIGKILL"):
        fut.result(60)
    assert engine.run("increment") == 1
    assert engine.run("pid") in set(pool.worker_pids())


def test_process_timeout_kills_and_replaces(processes: TheusEngine) -> None:
    engine = processes
    pool = engine.get_pool()
    pool.timeout = 0.5
    with pytest.raises(ParallelError, match=r"timed out \(no result within 0.5s\)"):
        engine.run("nap", seconds=30)
    pool.timeout = None  # no timing assumption about the calls below
    assert engine.run("nap", seconds=0.01) == 0.01
    assert engine.run("increment") == 1
    assert engine.state.version == 1


def test_timeout_from_environment(procs: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THEUS_USE_PROCESSES", "1")
    monkeypatch.setenv("THEUS_POOL_TIMEOUT", "0.4")
    with TheusEngine({"domain": {}}) as engine:
        engine.register(procs.nap)
        assert engine.get_pool().timeout == 0.4
        with pytest.raises(ParallelError, match="timed out"):
            engine.run("nap", seconds=30)


@pytest.mark.skipif(not HAS_INTERPRETERS, reason="this Python has no sub-interpreter API")
def test_interpreter_timeout_abandons_the_slot(
    procs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    pure = importlib.import_module("parallel_pure")
    process(parallel=True)(pure.nap)
    process(parallel=True)(pure.add)
    with TheusEngine({"domain": {}}) as engine:
        engine.register(pure.nap)
        engine.register(pure.add)
        pool = engine.get_pool()
        assert pool.kind == "interpreters"
        pool.timeout = 0.2
        with pytest.raises(ParallelError, match="timed out"):
            engine.run("nap", seconds=1.0)
        pool.timeout = None  # no timing assumption about the calls below
        # both slots still serve (the abandoned one was replaced)
        futs = [
            engine._submit_parallel(engine.processes["add"], {"a": i, "b": 1}) for i in range(6)
        ]
        assert [f.result(30) for f in futs] == [1, 2, 3, 4, 5, 6]
    # close() waited for the abandoned body: nothing runs in a sub-interpreter any more


def _segments(pids: set[int] | None = None) -> set[str]:
    """Theus segments owned by this process (or by ``pids``): other test runs on the
    machine may create and remove their own at any time."""
    from theus_shm import list_segments

    owners = {os.getpid()} | (pids or set())
    return {info.name for info in list_segments() if info.owner_pid in owners}


@pytest.mark.slow
@pytest.mark.skipif(not DEV_SHM.is_dir(), reason="needs /dev/shm to count segments")
def test_no_shm_leak_after_100_heavy_calls(procs: ModuleType) -> None:
    import numpy as np

    start = _segments()
    with TheusEngine({"domain": {}}) as engine:
        engine.register(procs.heavy_stats)
        engine.register(procs.arg_sum)
        engine.register(procs.heavy_write)
        img = engine.heavy.alloc("img", (256, 256), "float64")
        img[:] = np.arange(256 * 256, dtype="float64").reshape(256, 256)
        arg = engine.heavy.alloc("arg", (1000,), "int64")
        arg[:] = 2
        with engine.transaction() as tx:
            tx.set("domain.heavy_img", img)
        owned = _segments() - start
        assert len(owned) == 2
        expected = float(img.sum())
        for i in range(100):
            stats = engine.run("heavy_stats", scale=1.0)
            assert stats == {
                "sum": expected,
                "writeable": False,
                "shm": img.shm_name,
                "same": True,
            }
            assert engine.run("arg_sum", arr=arg) == 2000.0
            if i % 25 == 0:
                pool = engine.get_pool()
                workers = set(getattr(pool, "fallback", pool).worker_pids())
                assert _segments(workers) - start == owned  # no segment created per call
        pool = engine.get_pool()
        for wpid in getattr(pool, "fallback", pool).worker_pids():
            maps = Path(f"/proc/{wpid}/maps").read_text().splitlines()
            mapped = {line.split()[-1] for line in maps if "/dev/shm/th_" in line}
            assert len(mapped) <= 2  # borrowed views are unmapped after each task
        with pytest.raises(ValueError, match="read-only"):
            engine.run("heavy_write")
        assert img[0, 0] == 0.0
        assert _segments() - start == owned
    assert _segments() - start == set()  # the owner released everything at close


def test_heavy_array_is_sent_by_name(procs: ModuleType) -> None:
    from theus._parallel import build_payload

    with TheusEngine({"domain": {}}) as engine:
        spec = engine.register(procs.heavy_stats)
        img = engine.heavy.alloc("big", (1024, 1024), "float64")  # 8 MiB
        with engine.transaction() as tx:
            tx.set("domain.heavy_img", img)
        assert len(build_payload(engine.state, spec, {"scale": 2.0})) < 2048


def test_close_stops_worker_processes(processes: TheusEngine) -> None:
    engine = processes
    pool = engine.get_pool()
    assert pool.warm(120)
    pids = pool.worker_pids()
    assert len(pids) == 2
    engine.close()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


def test_executor_timeout(procs: ModuleType) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with (
        ThreadPoolExecutor(2) as executor,
        TheusEngine({"domain": {}}, executor=executor) as engine,
    ):
        engine.register(procs.nap)
        engine.get_pool().timeout = 0.2
        with pytest.raises(ParallelError, match=r"timed out \(no result within 0.2s\)"):
            engine.run("nap", seconds=1.0)
        engine.get_pool().timeout = None
        assert engine.run("nap", seconds=0.01) == 0.01


def test_broken_process_pool_executor_is_renewed(procs: ModuleType) -> None:
    import multiprocessing

    executor = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    with TheusEngine({"domain": {"counter": 0}}, executor=executor) as engine:
        engine.register(procs.crash)
        engine.register(procs.increment)
        assert engine.run("increment") == 1
        with pytest.raises(ParallelError, match="BrokenProcessPool"):
            engine.run("crash")
        assert engine.run("increment") == 2  # a new executor was started transparently
        assert engine.get_pool().executor is not executor
    executor.shutdown()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_dask_distributed_executor(procs: ModuleType) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        executor = client.get_executor()
        bank = {"domain": {"accounts": {"alice": 100, "bob": 20}, "counter": 0}}
        with TheusEngine(bank, executor=executor) as engine:
            engine.register(procs.transfer)
            engine.register(procs.pid)
            engine.register(procs.increment)
            assert engine.get_pool().kind == "executor"
            assert engine.run("transfer", src="alice", dst="bob", amount=30) == {
                "alice": 70,
                "bob": 50,
            }
            with pytest.raises(procs.InsufficientFunds):
                engine.run("transfer", src="bob", dst="alice", amount=500)
            futs = [engine._submit_parallel(engine.processes["increment"], {}) for _ in range(8)]
            assert sorted(f.result(120) for f in futs)[-1] == 8
            assert engine.state.get("domain.counter") == 8
            worker_pids = {engine.run("pid") for _ in range(6)}
            assert os.getpid() not in worker_pids


def test_plain_heavy_array_is_copied_with_a_note(procs: ModuleType, caplog: Any) -> None:
    import logging

    import numpy as np

    with TheusEngine({"domain": {}}) as engine:
        engine.register(procs.heavy_stats)
        with engine.transaction() as tx:
            tx.set("domain.heavy_img", np.full((4, 4), 2.0))
        with caplog.at_level(logging.INFO, logger="theus.pool"):
            stats = engine.run("heavy_stats", scale=0.5)
            engine.run("heavy_stats")
        assert stats == {"sum": 16.0, "writeable": False, "shm": None, "same": True}
        assert caplog.text.count("copied to the worker on every call") == 1


def test_workers_exit_when_the_parent_is_killed(procs: ModuleType, tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "import parallel_procs\n"
        "from theus import TheusEngine\n"
        "engine = TheusEngine({'domain': {}})\n"
        "engine.register(parallel_procs.pid)\n"
        "pool = engine.get_pool()\n"
        "engine.run('pid')\n"
        "pool = getattr(pool, 'fallback', pool)\n"
        "pool.warm(120)\n"
        "print(' '.join(map(str, pool.worker_pids())), flush=True)\n"
        "time.sleep(600)\n"
    )
    env = dict(os.environ, THEUS_USE_PROCESSES="1", THEUS_POOL_SIZE="2")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(30)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids)  # EOF on their pipe: no orphans left
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
