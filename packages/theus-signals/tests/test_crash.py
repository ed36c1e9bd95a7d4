"""SIGKILL: a killed writer (or relay) process loses nothing that was committed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from theus_signals import OutboxMessage, Relay, SqliteOutboxStore

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
]

BATCH = 50

WRITER = textwrap.dedent(
    """
    import sys
    from theus_signals import OutboxMessage, SqliteOutboxStore
    store = SqliteOutboxStore(sys.argv[1])
    size = int(sys.argv[2])
    b = 0
    while True:
        store.append([OutboxMessage(f"t{i % 3}", [b, i], key=f"{b}-{i}") for i in range(size)])
        print(b, flush=True)
        b += 1
    """
)

JOURNAL_WRITER = textwrap.dedent(
    """
    import sqlite3, sys
    from theus_signals import OutboxCollector, SqliteOutboxStore
    path = sys.argv[1]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS journal (version INTEGER PRIMARY KEY, delta TEXT)")
    store = SqliteOutboxStore(path)
    version = 0
    while True:
        version += 1
        collector = OutboxCollector(store)
        for i in range(10):
            collector.add("state.changed", {"v": version, "i": i}, key="%d-%d" % (version, i))
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO journal VALUES (?, ?)", (version, "x" * 200))
        collector.on_commit(version, conn)
        conn.execute("COMMIT")
        print(version, flush=True)
    """
)

RELAY = textwrap.dedent(
    """
    import os, sys, time
    from theus_signals import Relay, SqliteOutboxStore
    store = SqliteOutboxStore(sys.argv[1])
    out = open(sys.argv[2], "a")
    def sink(message):
        out.write(message.key + "\\n")
        out.flush()
        time.sleep(0.002)
    relay = Relay(store, sink, batch=20)
    print("ready", flush=True)
    while True:
        relay.run_once()
    """
)


def run_until_killed(script, *args, lines=40):
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
    )
    reported = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            reported.append(line.strip())
            if len(reported) >= lines:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"child ended on its own: {proc.returncode}"
    return reported


@pytest.mark.parametrize("kill_after", [1, 23, 57])
def test_sigkilled_writer_loses_no_committed_batch_and_relay_delivers_all(tmp_path, kill_after):
    path = tmp_path / "outbox.db"
    reported = [int(b) for b in run_until_killed(WRITER, path, BATCH, lines=kill_after)]
    with SqliteOutboxStore(path) as store:
        rows = store.pending(limit=1_000_000)
        batches = {}
        for m in rows:
            batches.setdefault(m.payload[0], []).append(m.payload[1])
        assert set(reported) <= set(batches)  # everything reported committed is there
        for b, items in batches.items():
            assert sorted(items) == list(range(BATCH)), f"batch {b} is torn"
        delivered = []
        relay = Relay(store, delivered.append, batch=100)
        while relay.run_once():
            pass
        assert len(store) == 0
        assert {m.key for m in delivered} == {m.key for m in rows}


@pytest.mark.parametrize("kill_after", [1, 31, 77])
def test_sigkilled_journal_commit_keeps_state_and_outbox_together(tmp_path, kill_after):
    path = tmp_path / "app.db"
    reported = [int(v) for v in run_until_killed(JOURNAL_WRITER, path, lines=kill_after)]
    with SqliteOutboxStore(path) as store:
        conn = sqlite3.connect(path)
        try:
            versions = {r[0] for r in conn.execute("SELECT version FROM journal")}
        finally:
            conn.close()
        assert set(reported) <= versions
        by_version = {}
        for m in store.pending(limit=1_000_000):
            by_version.setdefault(m.payload["v"], set()).add(m.payload["i"])
        assert set(by_version) == versions  # no state without its outbox, nor the reverse
        assert all(items == set(range(10)) for items in by_version.values())


def test_sigkilled_relay_redelivers_at_least_once(tmp_path):
    path = tmp_path / "outbox.db"
    log = tmp_path / "delivered.log"
    with SqliteOutboxStore(path) as store:
        for b in range(50):
            store.append([OutboxMessage("t", i, key=f"{b}-{i}") for i in range(20)])
        everything = {m.key for m in store.pending(limit=10_000)}
    proc = subprocess.Popen(
        [sys.executable, "-c", RELAY, str(path), str(log)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        # let it deliver part of the outbox, then kill it mid-batch
        while not log.exists() or len(log.read_text().splitlines()) < 100:
            assert proc.poll() is None
            time.sleep(0.001)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = set(log.read_text().split())
    assert 100 <= len(before) < len(everything)
    with SqliteOutboxStore(path) as store:
        after = []
        relay = Relay(store, after.append, batch=50)
        while relay.run_once():
            pass
        assert len(store) == 0
    assert before | {m.key for m in after} == everything  # at least once, nothing lost
