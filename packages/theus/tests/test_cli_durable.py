"""`theus history` and `theus resume` on durable journals."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from theus import TheusEngine
from theus._cli import main
from theus_flux import FluxPaused

PROCS = textwrap.dedent(
    """
    from theus import process

    @process(outputs=["domain.stage"])
    def prepare(ctx):
        return "prepared"

    @process(inputs=["domain.stage"], outputs=["domain.stage"])
    def finish(ctx):
        return ctx.domain.stage + "+finished"
    """
)
WF = """
steps:
  - prepare
  - flux: wait
    until: "signal.get('domain.cmd_approve', False)"
  - finish
"""


@pytest.fixture
def paused_run(tmp_path: Path) -> tuple[Path, Path]:
    procs = (
        tmp_path
        / f"cli_hitl_{tmp_path.name.replace('[', '_').replace(']', '_').replace('-', '_')}.py"
    )
    procs.write_text(PROCS)
    db = tmp_path / "app.db"
    engine = TheusEngine({"domain": {"stage": None}}, durable=db)
    engine.scan(procs)
    with pytest.raises(FluxPaused):
        engine.run_workflow(WF, run_id="job-1")
    engine.close()
    return db, procs


def test_history_table_and_json(
    paused_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = paused_run
    assert main(["history", str(db), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["version"], r["requester"], r["changes"]) for r in lines] == [
        (1, "prepare", {"domain.stage": "prepared"})
    ]
    assert main(["history", str(db), "--path", "domain.other", "--json"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["history", str(db)]) == 0
    assert "prepared" in capsys.readouterr().out


def test_resume_with_a_signal(
    paused_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, procs = paused_run
    assert main(["resume", str(db), "job-1", "-p", str(procs)]) == 0
    assert "paused at steps[1]" in capsys.readouterr().out
    assert main(["resume", str(db), "job-1", "-p", str(procs), "-s", "cmd_approve=true"]) == 0
    assert "job-1: complete after 1 step(s)" in capsys.readouterr().out
    with TheusEngine.open(db) as engine:
        assert engine.state.get("domain.stage") == "prepared+finished"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history", "missing.db"], "does not exist"),
        (["resume", "{db}", "nope", "-p", "{procs}"], "no workflow run 'nope'"),
        (["resume", "{db}", "job-1", "-p", "{procs}", "-s", "approve"], "expected NAME=VALUE"),
        (["resume", "{db}", "job-1", "-p", "{procs}", "-s", "ok=1"], "not a SIGNAL"),
        (["history", "{procs}"], "not a usable SQLite journal"),
        (["history", "{db}", "--path", "bogus.x"], "unknown layer"),
    ],
)
def test_bad_input_is_one_line(
    paused_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    db, procs = paused_run
    argv = [a.format(db=db, procs=procs) for a in args]
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("theus: error:") and "\n" not in err
    assert message in err
