"""Durable-state figures (issue 11). Each line: ``name: value unit``; baselines from this run.

Baseline: one sqlite3 INSERT of a small JSON row + COMMIT in WAL mode with the same
``synchronous`` setting (FULL), on the same disk.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import _timing as t

from theus import TheusEngine, process
from theus_state import SqliteJournal, Store


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def step(ctx):  # type: ignore[no-untyped-def]
    return ctx.domain.counter + 1


def sqlite_baseline(folder: Path) -> float:
    conn = sqlite3.connect(folder / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data TEXT)")
    row = json.dumps({"path": "domain.counter", "value": 1})

    def insert() -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (data) VALUES (?)", (row,))
        conn.execute("COMMIT")

    seconds = t.per_call(insert, number=300, repeat=5)
    conn.close()
    return seconds


def durable_step(folder: Path, keys: int) -> float:
    domain = {f"k{i}": i for i in range(keys)}
    domain["counter"] = 0
    engine = TheusEngine({"domain": domain}, durable=folder / f"engine{keys}.db")
    engine.register(step)
    seconds = t.per_call(lambda: engine.run("step"), number=300, repeat=5)
    engine.close()
    return seconds


def group_commit(folder: Path) -> float:
    store = Store({"domain": {"n": 0}}, journal=SqliteJournal(folder / "group.db"))
    n = 20_000
    t0 = time.perf_counter()
    with store.batch():
        for i in range(n):
            store.apply({"domain.n": i})
    rate = n / (time.perf_counter() - t0)
    store.close()
    return rate


def open_large(folder: Path) -> float:
    path = folder / "large.db"
    store = Store({"domain": {"n": 0, "name": "x"}}, journal=SqliteJournal(path))
    with store.batch():
        for i in range(100_000):
            store.apply({"domain.n": i})
    store.close()
    return t.samples(lambda: TheusEngine.open(path).close(), repeat=3)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = sqlite_baseline(folder)
        t.report("baseline.sqlite_insert_commit_wal_full", base)
        small = durable_step(folder, 10)
        big = durable_step(folder, 1_000)
        t.report("durable.engine_run_10_keys", small)
        t.report_value("durable.engine_run_vs_sqlite_baseline", small / base, "x")
        t.report("durable.engine_run_1000_keys", big)
        t.report_value("durable.ratio_1000_vs_10_keys", big / small, "x")
        t.report_value("durable.group_commit_rate", group_commit(folder), "commits/s")
        t.report("durable.open_100k_commits", open_large(folder), "s")


if __name__ == "__main__":
    main()
