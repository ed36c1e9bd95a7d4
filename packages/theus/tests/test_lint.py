"""``theus check``: the static POP linter finds exactly the seeded violations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from theus._cli import main
from theus._lint import Finding, lint_paths, lint_source

FIXTURE = Path(__file__).parent / "lint_fixtures" / "bad_processes.py"
REPO = Path(__file__).resolve().parents[3]


def _expected(path: Path) -> list[tuple[int, str]]:
    out = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = re.search(r"# expect: (TH\d{3})", line)
        if match:
            out.append((number, match.group(1)))
    return out


def test_fixture_findings_are_exactly_the_seeded_ones() -> None:
    findings, files = lint_paths([FIXTURE])
    assert files == 1
    assert [(f.line, f.code) for f in findings] == _expected(FIXTURE)
    assert len(findings) >= 20


def test_messages_name_the_path_and_the_rule() -> None:
    findings, _ = lint_paths([FIXTURE])
    text = "\n".join(map(str, findings))
    assert f"{FIXTURE}:19: TH001 read of 'domain.bonus' is not declared in inputs/outputs" in text
    assert "TH001 read of 'global.config.rate'" in text
    assert "TH002 write of 'domain.count' is not declared in outputs" in text
    assert "TH002 delete of 'domain.stale'" in text
    assert "TH003 in-place mutation of 'domain.items' (.append())" in text
    assert "TH003 in-place mutation of 'domain.items' (.sort())" in text  # through an alias
    assert "TH004 I/O call requests.get() in PURE process 'pure_with_io'" in text
    assert "TH004 I/O call time.sleep() in PURE process" in text  # `from time import sleep`
    assert "TH002 write of 'domain.a' in a PURE process" in text


def test_cli_check_reports_file_line_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(FIXTURE)])
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == len(_expected(FIXTURE))
    for line in lines:
        assert re.match(rf"^{re.escape(str(FIXTURE))}:\d+: TH00\d \S", line), line
    assert f"{len(lines)} findings in 1 file(s)" in err


def test_examples_and_templates_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    examples = REPO / "examples"
    if not examples.is_dir():
        pytest.fail(f"examples folder missing at {examples}")
    code = main(["check", str(examples)])
    out, err = capsys.readouterr()
    assert code == 0, out
    assert out == ""
    assert "0 findings" in err


def test_clean_process_has_no_findings() -> None:
    source = """
from theus import process

@process(inputs=["domain.accounts"], outputs=["domain.accounts"], errors=["ValueError"])
def transfer(ctx, src, dst, amount):
    accounts = dict(ctx.domain.accounts)
    if accounts.get(src, 0) < amount:
        raise ValueError("insufficient funds")
    accounts[src] -= amount
    accounts[dst] = accounts.get(dst, 0) + amount
    ctx.domain.accounts = accounts
    for name, value in ctx.domain.accounts.items():
        ctx.log(f"{name}: {value}")
    return accounts
"""
    assert lint_source(source) == []


def test_syntax_error_and_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    assert lint_paths([broken])[0] == [
        Finding(str(broken), 1, "TH000", "syntax error: invalid syntax")
    ]
    code = main(["check", str(tmp_path / "nope")])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == f"theus: error: no such file or directory: {tmp_path / 'nope'}"
    assert main(["check"]) == 2


def test_directory_walk_skips_virtualenvs(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / ".venv").mkdir()
    bad = "from theus import process\n@process(inputs=[])\ndef f(ctx):\n    return ctx.domain.x\n"
    (tmp_path / "pkg" / "p.py").write_text(bad)
    (tmp_path / ".venv" / "p.py").write_text(bad)
    findings, files = lint_paths([tmp_path])
    assert files == 1
    assert [(Path(f.file).parent.name, f.code) for f in findings] == [("pkg", "TH001")]
