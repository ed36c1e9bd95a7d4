"""Parallel dispatch: same results as sequential runs, on every backend; commits,
conflicts, errors, refusals, hooks (see also test_parallel_robustness.py)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from theus import (
    ContractViolation,
    InvalidProcess,
    ParallelError,
    TheusEngine,
    TheusError,
    _interp,
    hookimpl,
    process,
)
from theus._parallel import build_payload
from theus_flux import FluxError

TESTS = Path(__file__).parent
HAS_INTERPRETERS = _interp.api() is not None
BACKENDS = ["processes", "executor"] + (["interpreters"] if HAS_INTERPRETERS else [])


@pytest.fixture
def procs(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv("THEUS_POOL_SIZE", "2")
    return importlib.import_module("parallel_procs")


@pytest.fixture
def pure(procs: ModuleType) -> ModuleType:
    mod = importlib.import_module("parallel_pure")
    process(parallel=True)(mod.add)
    process(inputs=["domain.numbers", "domain.profile.name"], parallel=True)(mod.scaled)
    process(parallel=True)(mod.where)
    process(parallel=True)(mod.nap)
    process(parallel=True)(mod.fail)
    process(inputs=["domain.profile"], parallel=True)(mod.echo_view)
    return mod


def make_engine(
    kind: str, context: Any, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> TheusEngine:
    """An engine whose pool is of ``kind`` (the executor is a thread pool here)."""
    if kind == "interpreters" and not HAS_INTERPRETERS:
        pytest.skip("this Python has no sub-interpreter API")
    if kind == "processes":
        monkeypatch.setenv("THEUS_USE_PROCESSES", "1")
    if kind == "executor":
        options["executor"] = ThreadPoolExecutor(2)
    return TheusEngine(context, **options)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


BANK = {"domain": {"accounts": {"alice": 100, "bob": 20}, "counter": 0}}
TRANSFERS = [
    ("alice", "bob", 30),
    ("bob", "carol", 45),
    ("carol", "alice", 5),
    ("alice", "dave", 70),  # fails: alice has 75 - 70 = ok; then the next one fails
    ("alice", "bob", 50),
    ("dave", "bob", 10),
]


def _run_all(engine: TheusEngine, name: str) -> list[Any]:
    out: list[Any] = []
    for src, dst, amount in TRANSFERS:
        try:
            out.append(engine.run(name, src=src, dst=dst, amount=amount))
        except Exception as exc:
            out.append((type(exc).__name__, str(exc)))
    return out


def test_results_equal_sequential(
    backend: str, procs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TheusEngine(BANK) as seq:
        seq.register(procs.transfer_seq)
        expected = _run_all(seq, "transfer_seq")
        expected_state = seq.state.to_dict()
        expected_version = seq.state.version
    with make_engine(backend, BANK, monkeypatch) as par:
        par.register(procs.transfer)
        got = _run_all(par, "transfer")
        assert par.get_pool().kind == backend
        assert got == expected
        assert ("InsufficientFunds", "alice has 5, needs 50") in got
        assert par.state.to_dict() == expected_state
        assert par.state.version == expected_version


def test_pure_module_results(
    backend: str, pure: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = {"domain": {"numbers": [1, 2, 3], "profile": {"name": "n", "other": 1}}}
    with make_engine(backend, ctx, monkeypatch) as engine:
        for fn in (pure.add, pure.scaled, pure.fail, pure.echo_view):
            engine.register(fn)
        assert engine.run("echo_view") == {"name": "n", "other": 1}  # a view travels as a dict
        assert engine.run("add", a=2, b=40) == 42
        assert engine.execute_parallel("scaled", factor=3) == {"scaled": [3, 6, 9], "name": "n"}
        with pytest.raises(KeyError, match="missing-thing") as info:
            engine.run("fail")
        assert any("worker traceback" in note for note in info.value.__notes__)
        assert engine.state.version == 0  # nothing declared as output: nothing written


def test_ctx_reads_args_logs_signals_and_commit(
    backend: str, procs: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    ctx = {"domain": {"user": {"name": "Ada", "age": 36}, "counter": 3}}
    with make_engine(backend, ctx, monkeypatch) as engine:
        engine.register(procs.report)
        sub = engine.signals.subscribe("domain.sig_*")
        with caplog.at_level(logging.INFO, logger="theus.process.report"):
            out = engine.run("report", greeting="Hi")
        assert out == ("Hi, Ada (Hi)", "ok")  # the argument is visible as ctx.domain.greeting
        assert engine.state.get("domain.report") == "Hi, Ada (Hi)"
        msg = sub.recv(timeout=5)
        assert (msg.topic, msg.payload) == ("domain.sig_done", "ok")
        assert "reporting on Ada" in caplog.text
        assert engine.state.version == 1


def test_writes_through_ctx_are_committed(
    backend: str, procs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_engine(backend, {"domain": {"counter": 4}}, monkeypatch) as engine:
        engine.register(procs.write_through_ctx)
        assert engine.run("write_through_ctx", n=3) is None
        assert engine.state.get("domain.total") == 12
        assert list(engine.state.get("domain.items")) == [0, 1, 2]


def test_contract_enforced_on_worker_reads_and_parent_commit(
    backend: str, procs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = {"domain": {"counter": 1, "secret": "s3cret"}}
    with make_engine(backend, ctx, monkeypatch) as engine:
        engine.register(procs.read_undeclared)
        engine.register(procs.write_undeclared)
        with pytest.raises(AttributeError, match="domain.secret.*not available"):
            engine.run("read_undeclared")
        with pytest.raises(ContractViolation, match="domain.secret"):
            engine.run("write_undeclared")
        assert engine.state.version == 0
        assert engine.state.get("domain.secret") == "s3cret"


def test_errors_keep_their_type_and_are_reported(
    backend: str, procs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str, bool]] = []

    class Spy:
        @hookimpl
        def theus_process_error(
            self, engine: Any, process: Any, error: BaseException, declared: bool
        ) -> None:
            seen.append((process.name, type(error).__name__, declared))

    with make_engine(backend, {"domain": {}}, monkeypatch, plugins=[Spy()]) as engine:
        engine.register(procs.fail_custom)
        engine.register(procs.fail_unpicklable)
        with pytest.raises(procs.InsufficientFunds, match="declared failure"):
            engine.run("fail_custom")
        with pytest.raises(ParallelError, match="Unpicklable: cannot travel"):
            engine.run("fail_unpicklable")
    assert seen == [
        ("fail_custom", "InsufficientFunds", True),
        ("fail_unpicklable", "ParallelError", False),
    ]


def test_concurrent_read_modify_write_loses_no_update(
    backend: str, procs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads race parallel and sequential increments of one counter: a worker result
    based on a stale counter conflicts at commit and the body runs again."""
    with make_engine(backend, {"domain": {"counter": 0}}, monkeypatch) as engine:
        engine.register(procs.increment)
        engine.register(procs.increment_seq)
        errors: list[BaseException] = []

        def hammer(name: str) -> None:
            try:
                for _ in range(6):
                    engine.run(name)
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=hammer, args=(n,))
            for n in ("increment", "increment", "increment", "increment_seq")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert engine.state.get("domain.counter") == 24
        assert engine.state.version == 24


def test_async_execute_and_async_bodies(
    backend: str, procs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_engine(backend, {"domain": {"counter": 1}}, monkeypatch) as engine:
        engine.register(procs.increment)
        engine.register(procs.async_increment)

        async def main() -> list[Any]:
            return list(
                await asyncio.gather(
                    engine.execute("async_increment"), engine.execute("increment", by=5)
                )
            )

        results = asyncio.run(main())
        assert sorted(results) in ([6, 16], [11, 16])  # the second commit re-ran on fresh input
        assert engine.state.get("domain.counter") == 16


def test_refusals_before_anything_is_sent(
    backend: str, procs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec("def in_main(ctx):\n    return 1\n", ns)
    in_main = process(parallel=True)(ns["in_main"])
    anonymous = process(parallel=True)(lambda ctx: 1)
    factor = 3

    @process(parallel=True)
    def nested(ctx: Any) -> int:
        return factor

    before: list[Any] = []

    class Spy:
        @hookimpl
        def theus_process_before(self, engine: Any, process: Any, kwargs: Any) -> None:
            before.append(process.name)

    with make_engine(backend, {"domain": {}}, monkeypatch, plugins=[Spy()]) as engine:
        for fn, text in (
            (in_main, "defined in __main__"),
            (anonymous, "lambda"),
            (nested, "nested function"),
        ):
            engine.register(fn)
            with pytest.raises(InvalidProcess, match=text) as info:
                engine.execute_parallel(fn)
            assert "module-level functions of an importable module" in str(info.value)
            with pytest.raises(InvalidProcess, match=text):
                engine.run(fn)  # parallel=True routes run() here too
        assert before == []  # refused before the input audit and hooks
        assert engine.state.version == 0


def test_unpicklable_argument_fails_cleanly(
    backend: str, procs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_engine(backend, {"domain": {}}, monkeypatch) as engine:
        engine.register(procs.pid)
        with pytest.raises(ParallelError, match="cannot be sent to a worker"):
            engine.execute_parallel("pid", handle=threading.Lock())
        assert isinstance(engine.run("pid"), int)  # the pool is fine


def test_payload_carries_only_declared_inputs(procs: ModuleType) -> None:
    import pickle

    with TheusEngine({"domain": {"accounts": {"a": 1}, "big": list(range(10_000))}}) as engine:
        spec = engine.register(procs.transfer)
        task = pickle.loads(build_payload(engine.state, spec, {"src": "a"}))
        _, module, qualname, name, layers, heavy, kwargs, _paths, call_id = task
        assert (module, qualname, name) == ("parallel_procs", "transfer", "transfer")
        assert layers == {"domain": {"accounts": {"a": 1}}}
        assert heavy == {} and kwargs == {"src": "a"}
        again = pickle.loads(build_payload(engine.state, spec, {"src": "a"}))
        assert again[:-1] == task[:-1] and again[-1] != call_id  # never deduplicated


# -- backend choice ------------------------------------------------------------------------
class KindSpy:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def theus_pool_selected(self, engine: Any, process: Any, kind: str) -> None:
        self.seen.append((process.name, kind))


@pytest.mark.skipif(not HAS_INTERPRETERS, reason="this Python has no sub-interpreter API")
def test_backend_choice_per_module(pure: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    numpy_mod = importlib.import_module("parallel_numpy")
    process(parallel=True)(numpy_mod.total)
    spy = KindSpy()
    with TheusEngine({"domain": {}}, plugins=[spy]) as engine:
        engine.register(pure.where)
        engine.register(numpy_mod.total)
        pool = engine.get_pool()
        assert pool.kind == "interpreters"
        assert pool.backend_for(engine.processes["where"]) == "interpreters"
        assert pool.backend_for(engine.processes["total"]) == "processes"
        assert engine.run("where") == "clean"  # numpy never loaded in that worker
        assert engine.run("total", n=10) == 45.0
        assert engine.run("where") == "clean"
        assert spy.seen == [("where", "interpreters"), ("total", "processes")]
    ok, reason = _interp.probe_module("parallel_numpy")
    assert not ok and "subinterpreters" in reason


@pytest.mark.skipif(not HAS_INTERPRETERS, reason="this Python has no sub-interpreter API")
def test_heavy_inputs_route_to_processes(procs: ModuleType) -> None:
    with TheusEngine({"domain": {}}) as engine:
        spec = engine.register(procs.heavy_stats)
        assert engine.get_pool().backend_for(spec) == "processes"


def test_forced_processes_and_hook(procs: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THEUS_USE_PROCESSES", "1")
    spy = KindSpy()
    with TheusEngine({"domain": {"counter": 0}}, plugins=[spy]) as engine:
        engine.register(procs.increment)
        assert engine.get_pool().kind == "processes"
        assert engine.get_pool().size == 2
        engine.run("increment")
        engine.run("increment")
        assert spy.seen == [("increment", "processes")]


def test_default_backend_follows_the_python(procs: ModuleType) -> None:
    with TheusEngine({"domain": {}}) as engine:
        kind = engine.get_pool().kind
    assert kind == ("interpreters" if HAS_INTERPRETERS else "processes")


def test_executor_from_hook(procs: ModuleType) -> None:
    pool = ThreadPoolExecutor(1)

    class Provider:
        @hookimpl
        def theus_make_executor(self, engine: Any) -> Any:
            return pool

    spy = KindSpy()
    with TheusEngine({"domain": {"counter": 1}}, plugins=[Provider(), spy]) as engine:
        engine.register(procs.increment)
        assert engine.get_pool().kind == "executor"
        assert engine.run("increment", by=2) == 3
        assert spy.seen == [("increment", "executor")]
    pool.submit(int).result()  # theus does not shut down an executor it does not own
    pool.shutdown()


def test_bad_environment_values(procs: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THEUS_POOL_SIZE", "zero")
    with (
        TheusEngine({"domain": {}}) as engine,
        pytest.raises(TheusError, match="THEUS_POOL_SIZE must be a positive integer"),
    ):
        engine.get_pool()
    monkeypatch.setenv("THEUS_POOL_SIZE", "1")
    monkeypatch.setenv("THEUS_POOL_TIMEOUT", "-3")
    with (
        TheusEngine({"domain": {}}) as engine,
        pytest.raises(TheusError, match="THEUS_POOL_TIMEOUT"),
    ):
        engine.get_pool()
    with (
        pytest.raises(TypeError, match="concurrent.futures.Executor"),
        TheusEngine({"domain": {}}, executor=object()) as engine,
    ):
        engine.get_pool()


def test_closed_engine_refuses_parallel_work(procs: ModuleType) -> None:
    engine = TheusEngine({"domain": {}})
    engine.register(procs.pid)
    engine.close()
    with pytest.raises(TheusError, match="closed"):
        engine.run("pid")


def test_parallel_commits_are_journaled_and_hooked(
    procs: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THEUS_USE_PROCESSES", "1")
    after: list[tuple[str, Any, int]] = []

    class Spy:
        @hookimpl
        def theus_process_after(self, engine: Any, process: Any, result: Any, version: int) -> None:
            after.append((process.name, result, version))

    db = tmp_path / "app.db"
    with TheusEngine({"domain": {"counter": 0}}, durable=db, plugins=[Spy()]) as engine:
        engine.register(procs.increment)
        engine.register(procs.write_through_ctx)
        assert engine.run("increment", by=5) == 5
        assert engine.run("write_through_ctx", n=2) is None
    assert after == [("increment", 5, 1), ("write_through_ctx", None, 2)]
    with TheusEngine.open(db) as reopened:
        assert reopened.state.get("domain.counter") == 5
        assert reopened.state.get("domain.total") == 10
        assert reopened.state.version == 2


def test_audit_applies_on_both_sides(
    backend: str, procs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from theus_audit import AuditAbortError

    recipe = {
        "processes": {
            "transfer": {"inputs": [{"field": "amount", "max": 50, "level": "A"}]},
            "increment": {"outputs": [{"field": "counter", "max": 2, "level": "A"}]},
        }
    }
    with make_engine(backend, BANK, monkeypatch, audit=recipe) as engine:
        engine.register(procs.transfer)
        engine.register(procs.increment)
        with pytest.raises(AuditAbortError, match="amount"):
            engine.run("transfer", src="alice", dst="bob", amount=60)
        assert engine.run("increment", by=2) == 2
        with pytest.raises(AuditAbortError, match="counter"):
            engine.run("increment")
        assert engine.state.get("domain.counter") == 2
        assert engine.state.version == 1


DURABLE_WF = """
steps: [increment_seq, increment, increment, increment_seq]
"""


def test_parallel_steps_in_a_durable_run_commit_with_the_run_position(
    backend: str,
    procs: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fail_after_commit: Any,
) -> None:
    """A parallel step's result commits in the same SQL transaction as the run position:
    after a failure right behind such a commit, resuming never runs that step again."""
    db = tmp_path / "app.db"
    with make_engine(backend, {"domain": {"counter": 0}}, monkeypatch, durable=db) as engine:
        engine.register(procs.increment_seq)
        engine.register(procs.increment)
        failing = fail_after_commit(3)  # the second parallel step has committed, durably
        engine.store.plugin_manager.register(failing)
        with pytest.raises(FluxError, match="after commit 3"):
            engine.run_workflow(DURABLE_WF, run_id="r")
        engine.store.plugin_manager.unregister(failing)
        assert engine.state.get("domain.counter") == 3
    options = {"executor": ThreadPoolExecutor(2)} if backend == "executor" else {}
    with TheusEngine.open(db, **options) as engine:
        engine.register(procs.increment_seq)
        engine.register(procs.increment)
        engine.resume_workflow("r")
        assert engine.state.get("domain.counter") == 4  # no step ran twice
        assert [r.version for r in engine.history("domain.counter")] == [1, 2, 3, 4]
        assert {r.run_id: r.status for r in engine.workflow_runs()} == {"r": "complete"}


def test_parallel_steps_in_an_async_durable_run(
    procs: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with make_engine(
        "executor", {"domain": {"counter": 0}}, monkeypatch, durable=tmp_path / "a.db"
    ) as engine:
        engine.register(procs.increment_seq)
        engine.register(procs.increment)
        done = asyncio.run(engine.execute_workflow(DURABLE_WF, run_id="a"))
        assert done == ["increment_seq", "increment", "increment", "increment_seq"]
        assert engine.state.get("domain.counter") == 4
        assert {r.run_id: r.status for r in engine.workflow_runs()} == {"a": "complete"}
