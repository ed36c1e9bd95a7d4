from __future__ import annotations

import json
import subprocess
import sys

import pytest
from shm_helpers import SHM, forge_segment, me, pretend_this_process_dead

from theus_shm import MemoryRegistry, cli_main
from theus_shm._cli import human_age, human_size


def test_ls_lists_name_owner_size_state_age(
    registry: MemoryRegistry, session: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arr = registry.alloc("weights", (1024, 1024), "float32")
    assert cli_main(["ls", "--session", session]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["NAME", "PID", "SIZE", "STATE", "AGE", "SESSION", "KEY"]
    assert len(rows) == 1
    name, pid, size, state, age, sess, key = rows[0].split()
    assert (name, int(pid), size, state, sess, key) == (
        arr.shm_name, me()[0], "4.0M", "alive", session, "weights",
    )  # fmt: skip
    assert age.endswith("s")


def test_ls_json(
    registry: MemoryRegistry, session: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arr = registry.alloc("k", (3, 4), "int16")
    assert cli_main(["ls", "--json", "--session", session]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["name"] == arr.shm_name and entry["alive"] is True
    assert entry["shape"] == [3, 4] and entry["dtype"] == "<i2" and entry["nbytes"] == 24


def test_gc_prints_reclaimed_names_and_dry_run_keeps_them(
    session: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = forge_segment(session, "k", owner=me())
    pretend_this_process_dead(monkeypatch)
    assert cli_main(["ls", "--session", session]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[3] == "dead"
    assert cli_main(["gc", "--dry-run", "--session", session]) == 0
    assert capsys.readouterr().out.split() == [name]
    assert (SHM / name).exists()
    assert cli_main(["gc", "--session", session]) == 0
    assert capsys.readouterr().out.split() == [name]
    assert not (SHM / name).exists()
    assert cli_main(["gc", "--session", session]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["ls", "--bogus"], ["gc", "--session"], ["ls", "extra"]],
)
def test_bad_arguments_exit_non_zero_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(argv, prog="theus shm") == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("theus shm: error: ")


def test_bad_arguments_through_python_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "theus_shm", "nope"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("python -m theus_shm: error:")


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--help"]) == 0
    assert "{ls,gc}" in capsys.readouterr().out


def test_platform_without_listing_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from theus_shm import _backend

    monkeypatch.setattr(_backend, "BACKEND", _backend.PosixShmBackend())
    assert cli_main(["ls"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Linux" in err


def test_human_units() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 5 * 1024**2, 3 * 1024**4)] == [
        "0B", "1023B", "1.0K", "5.0M", "3.0T",
    ]  # fmt: skip
    assert [human_age(s) for s in (5, 125, 7260, 90000)] == ["5s", "2m05s", "2h01m", "1d01h"]
