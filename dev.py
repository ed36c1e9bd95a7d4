#!/usr/bin/env python3
"""Set-up-free entry point for a fresh machine (needs only ``python3`` and ``pip``).

    python3 dev.py demo           # make a venv, install every package from ./packages, run the demo
    python3 dev.py test [ARGS]    # run the whole tox matrix (ARGS go to tox, e.g. -e py311-state)

Everything is installed from the local ``packages/`` paths: no ``theus*`` distribution is
ever resolved from a package index (the PyPI name ``theus`` belongs to another project).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
TOOLS = ["tox>=4.20,<5"]
# Install order matters only for readability: one pip call resolves them together.
PACKAGE_ORDER = [
    "theus-state",
    "theus-signals",
    "theus-audit",
    "theus-flux",
    "theus-shm",
    "theus",
]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # pyenv shims only answer for the selected versions: expose every installed one so
    # that tox finds python3.11 / python3.12 / python3.13 side by side.
    if shutil.which("pyenv"):
        out = subprocess.run(
            ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
        ).stdout.split()
        current = [v for v in env.get("PYENV_VERSION", "").split(":") if v]
        wanted = [v for v in out if v.startswith(("3.11", "3.12", "3.13", "3.14"))]
        merged = current + [v for v in wanted if v not in current]
        if merged:
            env["PYENV_VERSION"] = ":".join(merged)
    env.pop("VIRTUAL_ENV", None)
    return env


def _run(cmd: list[str], env: dict[str, str]) -> int:
    return subprocess.call(cmd, cwd=ROOT, env=env)


def _ensure_venv(env: dict[str, str]) -> Path:
    python = BIN / "python"
    if not python.exists():
        print(f"dev.py: creating {VENV.relative_to(ROOT)}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    stamp = VENV / ".tools"
    if not stamp.exists() or stamp.read_text() != repr(TOOLS):
        if _run([str(python), "-m", "pip", "install", "-q", *TOOLS], env):
            sys.exit("dev.py: could not install the bootstrap tools")
        stamp.write_text(repr(TOOLS))
    return python


def _local_packages() -> list[str]:
    present = [p for p in PACKAGE_ORDER if (ROOT / "packages" / p / "pyproject.toml").exists()]
    return [str(ROOT / "packages" / p) for p in present]


def demo(args: list[str]) -> int:
    env = _env()
    python = _ensure_venv(env)
    pkgs = _local_packages()
    if _run([str(python), "-m", "pip", "install", "-q", *pkgs], env):
        return 1
    demo_script = ROOT / "examples" / "demo.py"
    return _run([str(python), str(demo_script), *args], env)


def test(args: list[str]) -> int:
    env = _env()
    python = _ensure_venv(env)
    if not args:
        args = ["run-parallel", "--parallel", "auto", "--parallel-no-spinner"]
    return _run([str(python), "-m", "tox", *args], env)


def main(argv: list[str]) -> int:
    commands = {"demo": demo, "test": test}
    if not argv or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
