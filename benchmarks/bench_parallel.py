"""theus parallel figures (issue 8). Each line: ``name: value unit``; baselines from this run.

- 4 CPU-bound pure-Python tasks of ~0.5 s on 2 workers (warm pool), per backend, next to
  the same 4 tasks run sequentially in this process;
- warm dispatch round trip of a trivial process per backend (submit, worker, commit),
  next to a sequential ``engine.run`` of the same process;
- parent-side cost of sending a 100 MiB shared-memory array to a worker (the task payload
  is built from its name), next to pickling the same array.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import _parallel_tasks as tasks
import _timing as t

from theus import TheusEngine, _interp, process
from theus._parallel import build_payload

WORKERS = 2
process(parallel=True)(tasks.cpu)
process(parallel=True)(tasks.trivial)
process(parallel=True)(tasks.heavy_shape)


def calibrate(target: float = 0.5) -> int:
    n = 200_000
    while True:
        t0 = time.perf_counter()
        tasks.spin(n)
        took = time.perf_counter() - t0
        if took > 0.05:
            return int(n * target / took)
        n *= 2


def make_engine(kind: str) -> TheusEngine:
    os.environ["THEUS_POOL_SIZE"] = str(WORKERS)
    if kind == "processes":
        os.environ["THEUS_USE_PROCESSES"] = "1"
    try:
        engine = TheusEngine({"domain": {}})
        engine.get_pool()
    finally:
        os.environ.pop("THEUS_USE_PROCESSES", None)
    for fn in (tasks.cpu, tasks.trivial, tasks.heavy_shape):
        engine.register(fn)
    assert engine.get_pool().kind == kind
    return engine


def bench_backend(kind: str, n: int) -> None:
    with make_engine(kind) as engine:
        pool = engine.get_pool()
        pool.warm(120)
        spec = engine.processes["cpu"]
        for _ in range(2 * WORKERS):  # warm: module imported in every worker
            engine.run("cpu", n=1000)

        def four() -> None:
            futures = [engine._submit_parallel(spec, {"n": n}) for _ in range(4)]
            for f in futures:
                f.result()

        t.report(f"parallel.{kind}.cpu_4x0.5s_on_{WORKERS}_workers", t.samples(four, repeat=3), "s")
        t.report(
            f"parallel.{kind}.roundtrip_trivial",
            t.per_call(lambda: engine.run("trivial"), repeat=5),
            "us",
        )


def bench_heavy() -> None:
    import numpy as np

    with TheusEngine({"domain": {}}) as engine:
        spec = engine.register(tasks.heavy_shape)
        arr = engine.heavy.alloc("bench", (100 * 1024 * 1024 // 8,), "float64")  # 100 MiB
        arr[:] = 1.0
        state = engine.state
        payload = build_payload(state, spec, {"arr": arr})
        cost = t.per_call(lambda: build_payload(state, spec, {"arr": arr}), repeat=5)
        t.report("parallel.heavy_100MiB.parent_cost", cost, "ms")
        t.report_value("parallel.heavy_100MiB.payload_size", len(payload), "bytes")
        plain = np.ones(arr.shape, dtype="float64")
        t.report(
            "baseline.pickle_100MiB_array",
            t.samples(lambda: pickle.dumps(plain, 5), repeat=5),
            "ms",
        )
        engine.run("heavy_shape", arr=arr)  # warm the process worker
        t.report(
            "parallel.heavy_100MiB.roundtrip",
            t.samples(lambda: engine.run("heavy_shape", arr=arr), repeat=7),
            "ms",
        )


def main() -> None:
    t.report_baseline()
    n = calibrate()
    sequential = t.samples(lambda: [tasks.spin(n) for _ in range(4)], repeat=3)
    t.report("baseline.cpu_4x0.5s_sequential", sequential, "s")
    # what this machine allows right now: the same tasks on a bare stdlib process pool
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=ctx) as raw:
        list(raw.map(tasks.spin, [1000] * 4))
        bare = t.samples(lambda: list(raw.map(tasks.spin, [n] * 4)), repeat=3)
    t.report(f"baseline.cpu_4x0.5s_stdlib_processpool_{WORKERS}_workers", bare, "s")
    with TheusEngine({"domain": {}}) as engine:
        engine.register(process(name="trivial_seq")(lambda ctx: 1))
        t.report("baseline.engine_run_trivial", t.per_call(lambda: engine.run("trivial_seq")), "us")
    kinds = ["interpreters", "processes"] if _interp.api() is not None else ["processes"]
    for kind in kinds:
        bench_backend(kind, n)
    bench_heavy()


if __name__ == "__main__":
    main()
