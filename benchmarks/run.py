"""Run every ``benchmarks/bench_*.py`` script, each in its own interpreter.

    python benchmarks/run.py            # all figures
    python benchmarks/run.py state      # only scripts whose name contains "state"

Each script prints one line per figure (``name: value unit``) plus the plain-Python
baseline from the same run (``baseline.<name>: value unit``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.stem for a in argv)]
    failed = 0
    for script in scripts:
        print(f"# {script.name}", flush=True)
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE)
        if rc:
            print(f"# {script.name} failed with exit code {rc}", flush=True)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
