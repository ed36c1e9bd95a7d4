"""Every example runs with `theus run` (and the demo with python), printing a summary
whose figures and final state are checked here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"


def _python(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    full_env = dict(os.environ, THEUS_DISABLE_PLUGIN_AUTOLOAD="1", **(env or {}))
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
        check=False,
    )


def _theus_run(example: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    done = _python(
        "-m", "theus", "run", str(EXAMPLES / example / "workflow.yaml"), "--json", *extra,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    assert summary["status"] == "ok"
    assert list(tmp_path.iterdir()) == [], "nothing may be written into the working directory"
    return summary


def test_every_example_folder_is_complete() -> None:
    folders = sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert {p.name for p in folders} >= {"orders", "bank", "sensors"}
    for folder in folders:
        for name in ("workflow.yaml", "processes.py", "README.md"):
            assert (folder / name).is_file(), f"{folder.name}/{name}"


def test_bank(tmp_path: Path) -> None:
    summary = _theus_run("bank", tmp_path)
    domain = summary["state"]["domain"]
    assert domain["accounts"] == {"alice": 25, "bob": 0, "carol": 55, "dave": 70}
    assert [r["src"] for r in domain["rejected"]] == ["carol"]
    assert len(domain["ledger"]) == 4
    assert summary["signals"] == {"published": 4, "topics": {"domain.sig_transferred": 4}}
    assert summary["state_version"] == 10
    assert summary["audit"]["violations"] == 0


def test_sensors_with_outbox_relayed_to_sqlite(tmp_path: Path) -> None:
    from theus_signals import SqliteOutboxStore

    db = tmp_path.parent / f"{tmp_path.name}-pages.db"
    summary = _theus_run("sensors", tmp_path, "--outbox-db", str(db))
    domain = summary["state"]["domain"]
    assert [a["at"] for a in domain["alerts"]] == [4, 5, 6]
    assert domain["setpoint"] == 20.0  # lowered 4 times while the average was above 25
    assert summary["signals"]["topics"] == {"domain.sig_overheat": 3}
    assert summary["outbox"] == {"pending": 0, "delivered": 3, "failures": 0}
    store = SqliteOutboxStore(db)
    try:
        assert [m.key for m in store.pending()] == [
            "page-boiler-4",
            "page-boiler-5",
            "page-boiler-6",
        ]
    finally:
        store.close()


@pytest.mark.parametrize("inprocess", ["0", "1"])
def test_orders_workflow(tmp_path: Path, inprocess: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THEUS_EXAMPLE_INPROCESS", inprocess)
    summary = _theus_run("orders", tmp_path)
    domain = summary["state"]["domain"]
    assert [o["id"] for o in domain["placed"]] == ["A-1001", "A-1002", "A-1004", "A-1005"]
    assert [o["id"] for o in domain["backordered"]] == ["A-1003"]
    assert domain["catalog"]["gadget"]["stock"] == 2
    assert domain["revenue"] == 25.0 * 4 + 120.0 * 4 + 8.5 * 12
    assert domain["flagged"] == ["A-1004"]
    assert len(domain["risk"]) == 4
    assert "heavy_features" not in domain  # HEAVY: never in a snapshot's dict
    assert summary["outbox"]["pending"] == 4 * 2 + 1  # charge + ship per order, one review
    assert summary["signals"]["topics"]["domain.sig_order_placed"] == 4


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["pool", "in-process"])
def test_demo(tmp_path: Path, mode: str) -> None:
    args = [str(EXAMPLES / "demo.py"), "--json", "--orders", "40"]
    if mode == "in-process":
        args.append("--in-process")
    done = _python(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []
    summary = json.loads(done.stdout)
    orders = summary["orders"]
    assert summary["status"] == "ok"
    assert orders["received"] == 40
    assert orders["admitted"] + len(orders["blocked"]) == 40
    assert orders["blocked"], "the generated orders include bad ones the audit must block"
    assert len(orders["placed"]) + len(orders["backordered"]) == orders["admitted"]
    assert all(stock >= 0 for stock in orders["stock"].values())
    assert summary["audit"]["violations"] >= len(orders["blocked"])
    assert summary["signals"]["topics"]["domain.sig_order_placed"] == len(orders["placed"])
    sqlite = summary["sqlite"]
    assert sqlite["by_topic"]["payments.charge"] == len(orders["placed"])
    assert sqlite["by_topic"]["shipping.create"] == len(orders["placed"])
    assert sqlite["delivered"] == sum(sqlite["by_topic"].values())
    assert summary["outbox"]["pending"] == 0
    assert summary["outbox"]["delivered"] == sqlite["delivered"]
    if mode == "in-process":
        assert summary["risk_step"] == "in-process"
    else:
        assert summary["risk_step"] in ("interpreters", "processes")


def test_demo_is_deterministic_and_rejects_bad_arguments(tmp_path: Path) -> None:
    runs = [
        json.loads(
            _python(str(EXAMPLES / "demo.py"), "--json", "--orders", "15", "--in-process",
                    cwd=tmp_path).stdout
        )["orders"]
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0] == runs[1]
    bad = _python(str(EXAMPLES / "demo.py"), "--orders", "-3", cwd=tmp_path)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
