from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from theus_flux import StepKind, Workflow, hookimpl, to_mermaid
from theus_flux._cli import main

WF = """
name: demo "quoted" <b>
steps:
  - initialize
  - flux: if
    condition: "domain.ok and domain.n > 0"
    then: [yes_a]
    else: [no_a, no_b]
  - flux: while
    condition: "domain.items_left > 0"
    do: [next_item]
  - flux: while
    condition: "False"
    do: []
  - flux: run
    steps: [a, b]
  - flux: wait
    until: "signal.get('domain.cmd_go')"
  - finish
"""


def test_mermaid_flowchart_structure() -> None:
    text = to_mermaid(Workflow.from_yaml(WF))
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "flowchart TD"
    assert text.endswith("\n")
    assert '%% demo "quoted" <b>' in lines  # a comment: not rendered
    assert 'flux_start(["start"])' in lines and 'flux_end(["end"])' in lines
    assert 's_steps_0["initialize"]' in lines
    assert "flux_start --> s_steps_0" in lines
    assert 's_steps_1{"if domain.ok and domain.n #gt; 0"}' in lines
    assert "s_steps_1 -->|true| s_steps_1_then_0" in lines
    assert "s_steps_1 -->|false| s_steps_1_else_0" in lines
    assert "s_steps_1_else_0 --> s_steps_1_else_1" in lines
    # both branches join at the loop; the body loops back; the loop exits on false
    assert "s_steps_1_then_0 --> s_steps_2" in lines
    assert "s_steps_1_else_1 --> s_steps_2" in lines
    assert "s_steps_2 -->|true| s_steps_2_do_0" in lines
    assert "s_steps_2_do_0 --> s_steps_2" in lines
    assert "s_steps_2 -->|false| s_steps_3" in lines
    assert "s_steps_3 -->|true| s_steps_3" in lines  # empty body
    assert 'subgraph s_steps_4 ["run steps[4]"]' in lines
    assert "s_steps_3 -->|false| s_steps_4_steps_0" in lines
    assert "s_steps_5{{\"wait until signal.get('domain.cmd_go')\"}}" in lines
    assert "s_steps_6 --> flux_end" in lines
    assert lines.count("end") == 1  # the subgraph's end


def test_mermaid_direction_and_custom_kinds() -> None:
    class Plugin:
        @hookimpl
        def flux_step_kinds(self) -> list[StepKind]:
            return [StepKind("notify", lambda ctx, config, executor: None)]

    workflow = Workflow.from_yaml("steps:\n  - flux: notify\n", plugins=[Plugin()])
    text = to_mermaid(workflow, direction="LR")
    assert text.startswith("flowchart LR\n")
    assert 's_steps_0[/"notify"/]' in text
    with pytest.raises(ValueError, match="direction"):
        to_mermaid(workflow, direction="XX")


def test_empty_workflow_diagram() -> None:
    text = to_mermaid(Workflow.from_yaml("steps: []"))
    assert "flux_start --> flux_end" in text


def test_cli_graph_and_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(WF, encoding="utf-8")
    assert main(["graph", str(path)]) == 0
    assert capsys.readouterr().out == to_mermaid(Workflow.from_yaml(path))
    out = tmp_path / "wf.mmd"
    assert main(["graph", str(path), "-o", str(out), "--direction", "LR"]) == 0
    assert out.read_text(encoding="utf-8").startswith("flowchart LR")
    assert main(["check", str(path)]) == 0
    assert "ok (13 steps)" in capsys.readouterr().out

    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - flux: nope\n", encoding="utf-8")
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"error: {bad}:2: unknown step kind 'nope' (known: if, while, run, wait)"
    assert main(["graph", str(tmp_path / "missing.yaml")]) == 1
    assert "no such workflow file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["bogus"])
    assert info.value.code == 2


def test_cli_module_entry_point(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text("steps: [a]\n", encoding="utf-8")
    env_cmd = [sys.executable, "-m", "theus_flux", "graph", str(path)]
    done = subprocess.run(env_cmd, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("flowchart TD")
    bad = subprocess.run(
        [sys.executable, "-m", "theus_flux", "check", str(tmp_path / "x.yaml")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert list(tmp_path.iterdir()) == [path]  # nothing written into the working directory
