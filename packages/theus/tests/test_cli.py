"""The ``theus`` command line: every command, and bad input without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import yaml

from theus._cli import main
from theus_audit import AuditRecipe

PROCESSES = """
from theus import process, SemanticType
from theus_signals import OutboxMessage

@process(inputs=["domain.n"], outputs=["domain.n", "domain.sig_tick"])
def tick(ctx):
    ctx.outbox.add(OutboxMessage("ticks", {"n": ctx.domain.n}))
    return {"n": ctx.domain.n + 1, "sig_tick": ctx.domain.n}

@process(inputs=["domain.n"], outputs=["domain.done"])
def finish(ctx):
    return True

@process(inputs=["domain.n"], semantic=SemanticType.PURE)
def boom(ctx):
    raise RuntimeError("boom at " + str(ctx.domain.n))

@process(inputs=["domain.n"], outputs=["domain.n"])
def set_n(ctx, value: int):
    return value
"""

WORKFLOW = """
name: ticker
steps:
  - flux: while
    condition: "domain.n < global.limit"
    do: [tick]
  - finish
"""


def _project(tmp_path: Path, workflow: str = WORKFLOW, context: str | None = None) -> Path:
    """A workflow folder with a uniquely named processes module (modules are imported
    by name, and this test process runs many projects)."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / f"procs_{uuid.uuid4().hex[:12]}.py").write_text(PROCESSES)
    (folder / "workflow.yaml").write_text(textwrap.dedent(workflow))
    if context is None:
        context = "domain: {n: 0, done: false}\nglobal: {limit: 3}\n"
    (folder / "context.yaml").write_text(context)
    return folder


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "expected an error message"
    assert "Traceback" not in err
    assert lines[-1].startswith("theus: error: "), err
    return lines[-1]


# -- run -----------------------------------------------------------------------------------
def test_run_json_summary_reports_state_signals_outbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path)
    code, out, _ = _run(capsys, "run", str(folder / "workflow.yaml"), "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["status"] == "ok"
    assert summary["state"]["domain"] == {"n": 3, "done": True}
    assert summary["state_version"] == 4
    assert summary["commits"] == 4
    assert summary["steps"] == 4
    assert summary["ops"] >= 5
    assert summary["signals"] == {"published": 3, "topics": {"domain.sig_tick": 3}}
    assert summary["outbox"] == {"pending": 3, "delivered": 0, "failures": 0}


def test_run_table_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _project(tmp_path)
    code, out, err = _run(capsys, "run", str(folder / "workflow.yaml"))
    assert code == 0
    for label in ("state version", "signals published", "outbox", "audit violations"):
        assert label in out
    assert "3 pending" in out
    assert "context" in err  # which files were used


def test_run_relays_outbox_into_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from theus_signals import SqliteOutboxStore

    folder = _project(tmp_path)
    db = tmp_path / "out.db"
    code, out, _ = _run(
        capsys, "run", str(folder / "workflow.yaml"), "--json", "--outbox-db", str(db)
    )
    assert code == 0
    summary = json.loads(out)
    assert summary["outbox"]["pending"] == 0
    assert summary["outbox"]["delivered"] == 3
    store = SqliteOutboxStore(db)
    try:
        assert [m.payload["n"] for m in store.pending()] == [0, 1, 2]
    finally:
        store.close()


def test_run_with_explicit_context_json_and_processes_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path)
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps({"domain": {"n": 5, "done": False}, "global": {"limit": 7}}))
    module = next(folder.glob("procs_*.py"))
    code, out, _ = _run(
        capsys,
        "run",
        str(folder / "workflow.yaml"),
        "--context",
        str(ctx),
        "--processes",
        str(module),
        "--json",
    )
    assert code == 0
    assert json.loads(out)["state"]["domain"]["n"] == 7


def test_run_with_processes_as_a_module_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _project(tmp_path)
    libdir = tmp_path / "lib"
    libdir.mkdir()
    module = next(folder.glob("procs_*.py")).rename(libdir / f"mod_{uuid.uuid4().hex[:10]}.py")
    monkeypatch.syspath_prepend(str(libdir))
    code, out, _ = _run(
        capsys, "run", str(folder / "workflow.yaml"), "--processes", module.stem, "--json"
    )
    assert code == 0
    assert json.loads(out)["state"]["domain"]["n"] == 3


def test_run_with_audit_recipe_counts_violations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path)
    (folder / "audit.yaml").write_text(
        "processes:\n  tick:\n    inputs:\n      - {field: n, max: 1, level: C}\n"
    )
    code, out, _ = _run(capsys, "run", str(folder / "workflow.yaml"), "--json")
    assert code == 0
    audit = json.loads(out)["audit"]
    assert audit["violations"] == 1  # n == 2 breaks max 1; C only counts
    assert audit["by_rule"] == {"tick:inputs:n:max": 1}


def test_run_failing_step_exits_1_with_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path, workflow="steps: [tick, boom, finish]\n")
    code, out, err = _run(capsys, "run", str(folder / "workflow.yaml"), "--json")
    assert code == 1
    summary = json.loads(out)
    assert summary["status"] == "failed"
    assert "boom at 1" in summary["error"]
    assert summary["state"]["domain"]["n"] == 1  # tick committed, boom left no trace
    assert "boom at 1" in _one_line_error(err)


def test_run_paused_at_a_wait_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflow = """
    steps:
      - tick
      - flux: wait
        until: "domain.n > 5"
      - finish
    """
    folder = _project(tmp_path, workflow=workflow)
    code, out, err = _run(capsys, "run", str(folder / "workflow.yaml"), "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["status"] == "paused"
    assert "domain.n > 5" in summary["paused_at"]
    assert summary["state"]["domain"] == {"n": 1, "done": False}
    code, out, err = _run(capsys, "run", str(folder / "workflow.yaml"), "--no-progress")
    assert code == 0
    assert "paused" in out and "paused at" in err


def test_run_max_ops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _project(tmp_path, context="domain: {n: 0, done: false}\nglobal: {limit: 1000}\n")
    code, out, _ = _run(capsys, "run", str(folder / "workflow.yaml"), "--max-ops", "5", "--json")
    assert code == 1
    assert "FluxLimitExceeded" in json.loads(out)["error"]


@pytest.mark.parametrize(
    ("setup", "args", "expected"),
    [
        (None, ["run", "missing.yaml"], "workflow file not found"),
        ("workflow", ["run", "{wf}", "--context", "nope.yaml"], "context file not found"),
        ("badctx", ["run", "{wf}"], "context.yaml:3: expected"),
        ("badjson", ["run", "{wf}", "--context", "{dir}/c.json"], "invalid JSON"),
        ("listctx", ["run", "{wf}"], "must be a mapping"),
        ("badwf", ["run", "{wf}"], "workflow.yaml"),
        ("unknownstep", ["run", "{wf}"], "no process for step(s) nosuch"),
        ("workflow", ["run", "{wf}", "--processes", "no_such_module_xyz"], "cannot load"),
        ("workflow", ["run", "{wf}", "--processes", "{dir}/gone.py"], "processes not found"),
        ("badaudit", ["run", "{wf}"], "audit.yaml"),
        ("workflow", ["run", "{wf}", "--max-ops", "0"], "max-ops"),
        (None, ["run"], "Missing argument"),
        (None, ["run", "x.yaml", "--bogus"], "No such option"),
        (None, ["nosuchcommand"], "No such command"),
        (None, ["init", "x", "--template", "nope"], "nope"),
    ],
)
def test_bad_input_is_one_line_never_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setup: str | None,
    args: list[str],
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path
    if setup is not None:
        folder = _project(tmp_path)
        if setup == "badctx":
            (folder / "context.yaml").write_text("domain:\n  n: [1, 2\n")
        elif setup == "badjson":
            (folder / "c.json").write_text('{"domain": ')
        elif setup == "listctx":
            (folder / "context.yaml").write_text("- 1\n- 2\n")
        elif setup == "badwf":
            (folder / "workflow.yaml").write_text("steps:\n  - flux: if\n    condition: 'x('\n")
        elif setup == "unknownstep":
            (folder / "workflow.yaml").write_text("steps: [tick, nosuch]\n")
        elif setup == "badaudit":
            (folder / "audit.yaml").write_text("processes:\n  tick:\n    inputs: [{fild: n}]\n")
    wf = str(folder / "workflow.yaml")
    argv = [a.format(wf=wf, dir=folder) for a in args]
    code, _, err = _run(capsys, *argv)
    assert code != 0
    assert expected in _one_line_error(err)


def test_console_script_and_python_m(tmp_path: Path) -> None:
    """The installed entry points: no traceback, exit status propagated."""
    env = dict(os.environ, THEUS_DISABLE_PLUGIN_AUTOLOAD="1")
    done = subprocess.run(
        [sys.executable, "-m", "theus", "run", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("theus: error: workflow file not found")
    assert "Traceback" not in done.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "theus", "--version"], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0 and "theus" in ok.stdout


def test_help_and_no_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys)
    assert code == 0
    for command in ("init", "run", "check", "audit", "flux", "shm"):
        assert command in out
    code, out, _ = _run(capsys, "run", "--help")
    assert code == 0 and "--processes" in out


# -- flux graph ------------------------------------------------------------------------------
def test_flux_graph_stdout_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _project(tmp_path)
    code, out, _ = _run(capsys, "flux", "graph", str(folder / "workflow.yaml"))
    assert code == 0
    assert out.startswith("flowchart TD\n")
    assert '["tick"]' in out and '["finish"]' in out
    assert "domain.n #lt; global.limit" in out
    code, _, _ = _run(
        capsys, "flux", "graph", str(folder / "workflow.yaml"), "-o", str(tmp_path / "g.mmd")
    )
    assert code == 0
    assert (tmp_path / "g.mmd").read_text() == out
    code, _, _ = _run(
        capsys, "flux", "graph", str(folder / "workflow.yaml"), "-o", str(tmp_path / "g.md")
    )
    assert code == 0
    assert (tmp_path / "g.md").read_text() == f"```mermaid\n{out}```\n"
    code, out_lr, _ = _run(
        capsys, "flux", "graph", str(folder / "workflow.yaml"), "--direction", "LR"
    )
    assert out_lr.startswith("flowchart LR\n")


def test_flux_graph_svg_is_built_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import xml.etree.ElementTree as ET

    folder = _project(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no mermaid-cli needed
    target = tmp_path / "g.svg"
    code, _, _ = _run(capsys, "flux", "graph", str(folder / "workflow.yaml"), "-o", str(target))
    assert code == 0
    root = ET.fromstring(target.read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_flux_graph_png_needs_mermaid_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _project(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code, _, err = _run(
        capsys, "flux", "graph", str(folder / "workflow.yaml"), "-o", str(tmp_path / "g.png")
    )
    assert code == 1
    assert "mermaid-cli" in _one_line_error(err)
    assert not (tmp_path / "g.png").exists()


def test_flux_graph_png_with_a_renderer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an `mmdc` on PATH, the Mermaid text is handed to it for PNG/PDF."""
    folder = _project(tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "mmdc"
    fake.write_text(
        f"#!{sys.executable}\nimport sys, shutil\n"
        "a = sys.argv\nshutil.copy(a[a.index('-i') + 1], a[a.index('-o') + 1])\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    target = tmp_path / "g.png"
    code, _, _ = _run(capsys, "flux", "graph", str(folder / "workflow.yaml"), "-o", str(target))
    assert code == 0
    assert target.read_text().startswith("flowchart TD")


def test_flux_graph_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _project(tmp_path)
    wf = str(folder / "workflow.yaml")
    for args, expected in [
        (["flux", "graph", str(tmp_path / "nope.yaml")], "not found"),
        (["flux", "graph", wf, "-o", str(tmp_path / "g.gif")], "unknown format"),
        (["flux", "graph", wf, "-o", str(tmp_path / "no" / "dir" / "g.mmd")], "cannot write"),
    ]:
        code, _, err = _run(capsys, *args)
        assert code == 1
        assert expected in _one_line_error(err)


# -- audit -------------------------------------------------------------------------------------
def test_audit_gen_spec_is_a_loadable_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path)
    module = next(folder.glob("procs_*.py"))
    target = tmp_path / "audit.yaml"
    code, _, _ = _run(capsys, "audit", "gen-spec", "--processes", str(module), "-o", str(target))
    assert code == 0
    text = target.read_text()
    recipe = AuditRecipe.from_yaml(target)
    assert set(recipe.processes) == {"tick", "finish", "boom", "set_n"}
    assert "field: value   # call argument" in text
    assert "field: n   # domain.n" in text
    data = yaml.safe_load(text)
    assert data["processes"]["set_n"] == {"inputs": [], "outputs": []}
    code, out, _ = _run(capsys, "audit", "gen-spec", "-p", str(folder))
    assert code == 0
    assert out.splitlines()[1:] == text.splitlines()[1:]  # line 1 names the source


def test_audit_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "audit.yaml"
    recipe.write_text(
        textwrap.dedent(
            """\
            level: B
            threshold_max: 5
            processes:
              transfer:
                inputs:
                  - {field: amount, min: 1, max: 1000, message: bad amount}
                outputs:
                  - {field: status, in: [ok, pending], level: S}
                  - {field: code, regex: "^[a-z]{2}$", message: "[bold]not markup[/]"}
            """
        )
    )
    code, out, _ = _run(capsys, "audit", "inspect", "transfer", "--recipe", str(recipe))
    assert code == 0
    for text in ("transfer", "amount", "min: 1", "max: 1000", "bad amount", "status", "S"):
        assert text in out
    assert "^[a-z]{2}$" in out and "[bold]not markup[/]" in out  # shown verbatim
    code, _, err = _run(capsys, "audit", "inspect", "nobody", "--recipe", str(recipe))
    assert code == 1
    assert "no rules for process 'nobody'" in _one_line_error(err)
    code, _, err = _run(capsys, "audit", "inspect", "x", "--recipe", str(tmp_path / "no.yaml"))
    assert code == 1 and "not found" in _one_line_error(err)
    bad = tmp_path / "bad.yaml"
    bad.write_text("level: Q\n")
    code, _, err = _run(capsys, "audit", "inspect", "x", "--recipe", str(bad))
    assert code == 1 and "bad.yaml" in _one_line_error(err)


def test_audit_gen_spec_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty_mod_for_spec.py"
    empty.write_text("X = 1\n")
    for target, expected in [
        (str(empty), "no @process functions"),
        (str(tmp_path / "missing.py"), "processes not found"),
    ]:
        code, _, err = _run(capsys, "audit", "gen-spec", "-p", target)
        assert code == 1
        assert expected in _one_line_error(err)


# -- shm -----------------------------------------------------------------------------------------
def test_shm_ls_and_gc_delegate_to_theus_shm(capsys: pytest.CaptureFixture[str]) -> None:
    from theus_shm import MemoryRegistry

    session = f"cli{uuid.uuid4().hex[:6]}"
    with MemoryRegistry(session=session) as registry:
        registry.alloc("block", (4,), "float64")
        code, out, _ = _run(capsys, "shm", "ls", "--session", session, "--json")
        assert code == 0
        listed = json.loads(out)
        assert [(s["key"], s["alive"]) for s in listed] == [("block", True)]
        code, out, _ = _run(capsys, "shm", "gc", "--session", session, "--dry-run")
        assert code == 0 and out.strip() == ""  # the owner is alive: nothing to reclaim
    code, _, err = _run(capsys, "shm", "frobnicate")
    assert code == 2
    assert "Traceback" not in err and "theus shm" in err
