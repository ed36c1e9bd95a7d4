"""``theus init``: every template scaffolds a project whose own tests pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from theus._cli import main
from theus._scaffold import TEMPLATES, render_template


def _pytest_in(project: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, THEUS_DISABLE_PLUGIN_AUTOLOAD="1")
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_scaffolded_project_tests_pass(
    template: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    name = f"demo_{template}"
    assert main(["init", name, "--template", template]) == 0
    out = capsys.readouterr().out
    assert f"created {name}" in out
    project = tmp_path / name
    for rel in ("README.md", "pyproject.toml", "workflow.yaml", "context.yaml", "processes.py"):
        assert (project / rel).is_file(), rel
    assert not list(project.rglob("*.tmpl"))
    assert "__PROJECT__" not in (project / "pyproject.toml").read_text()
    done = _pytest_in(project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_init_default_template_is_minimal(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "app")]) == 0
    assert "compute_total" in (tmp_path / "app" / "processes.py").read_text()
    assert 'name = "app"' in (tmp_path / "app" / "pyproject.toml").read_text()


def test_init_refuses_non_empty_folder_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    assert main(["init", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.strip().startswith("theus: error: ") and "not empty" in err
    assert not (target / "processes.py").exists()
    assert main(["init", str(target), "--force"]) == 0
    assert (target / "keep.txt").read_text() == "mine"
    assert (target / "processes.py").is_file()


@pytest.mark.parametrize("name", ["1abc", "bad name", "class", "a/../.."])
def test_init_rejects_bad_names(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", name]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("theus: error: ")


def test_init_over_a_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("x")
    assert main(["init", str(tmp_path / "f")]) == 1
    assert "a file with that name exists" in capsys.readouterr().err


def test_templates_render_every_placeholder() -> None:
    for template in TEMPLATES:
        files = render_template(template, "proj")
        assert {"processes.py", "workflow.yaml", "tests/conftest.py"} <= set(files)
        for rel, text in files.items():
            assert "__" + "PROJECT__" not in text, (template, rel)
