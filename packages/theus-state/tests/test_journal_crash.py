"""A writer process killed with SIGKILL at random points never leaves a torn journal."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from theus_state import SqliteJournal, Store

CHILD = textwrap.dedent(
    """
    import sys
    from theus_state import SqliteJournal, Store

    path = sys.argv[1]
    j = SqliteJournal(path, snapshot_every=50)
    if j.is_empty():
        j.connection.execute("CREATE TABLE IF NOT EXISTS side (version INTEGER PRIMARY KEY)")
        store = Store({"domain": {"n": 0, "items": []}}, journal=j)
    else:
        store = Store.open(j)

    class Side:
        def on_commit(self, version, conn):
            conn.execute("INSERT INTO side VALUES (?)", (version,))
        def on_rollback(self):
            pass

    print("ready", flush=True)
    while True:
        with store.transaction() as tx:
            tx.attach(Side())
            n = tx.get("domain.n") + 1
            tx.set("domain.n", n)
            tx.set("domain.items", [*tx.get("domain.items")[-20:], n])
    """
)


@pytest.mark.slow
def test_sigkill_at_random_points_never_tears_the_journal(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = random.Random(7)
    last = 0
    for _round in range(12):
        child = subprocess.Popen(
            [sys.executable, str(script), str(db)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.01, 0.25))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        j = SqliteJournal(db)  # the lock died with the child
        store = Store.open(j)
        version = store.state.version
        assert version >= last  # nothing committed was lost
        assert store.state.get("domain.n") == version  # one increment per commit
        assert store.state.get("domain.items")[-1:] == ([version] if version else [])
        versions = [r.version for r in store.history()]
        assert versions == list(range(1, version + 1))  # contiguous: no torn history
        side = [r[0] for r in j.connection.execute("SELECT version FROM side ORDER BY version")]
        assert side == versions  # participant rows exist for exactly the committed versions
        assert store.at(version // 2).get("domain.n") == version // 2
        j.close()
        last = version
    assert last > 0
