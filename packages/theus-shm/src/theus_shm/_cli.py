"""``python -m theus_shm ls|gc``: list theus segments and reclaim those of dead owners.

``cli_main(argv, prog=...)`` is the entry point other CLIs (``theus shm``) call; it returns
the exit status and never lets a traceback reach the user for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from ._header import SegmentInfo
from ._zombies import list_segments, scan_zombies
from .exceptions import ShmError


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def build_parser(prog: str = "python -m theus_shm") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Inspect and clean theus shared-memory segments.")
    sub = parser.add_subparsers(dest="command", metavar="{ls,gc}")
    sub.required = True
    ls = sub.add_parser("ls", help="list segments: name, owner pid, size, alive/dead, age")
    ls.add_argument("--session", help="only this session's segments")
    ls.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    gc = sub.add_parser("gc", help="reclaim segments whose owner process is dead")
    gc.add_argument("--session", help="only this session's segments")
    gc.add_argument("--dry-run", action="store_true", help="print what would be reclaimed")
    return parser


def human_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            return f"{int(value)}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_age(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _state(info: SegmentInfo) -> str:
    return "unknown" if info.alive is None else ("alive" if info.alive else "dead")


def format_table(segments: Sequence[SegmentInfo]) -> str:
    """The ``ls`` table: name, owner pid, size, alive/dead, age, session, key."""
    rows = [("NAME", "PID", "SIZE", "STATE", "AGE", "SESSION", "KEY")]
    for i in segments:
        rows.append(
            (i.name, str(i.owner_pid), human_size(i.size), _state(i), human_age(i.age),
             i.session, i.key)
        )  # fmt: skip
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    right = {1, 2}
    lines = []
    for r in rows:
        cells = [r[c].rjust(w) if c in right else r[c].ljust(w) for c, w in enumerate(widths)]
        lines.append("  ".join([*cells, r[-1]]))
    return "\n".join(lines)


def _as_json(i: SegmentInfo) -> dict[str, object]:
    return {
        "name": i.name, "owner_pid": i.owner_pid, "size": i.size, "nbytes": i.nbytes,
        "shape": list(i.shape), "dtype": i.dtype, "alive": i.alive, "age": round(i.age, 3),
        "created": i.created, "session": i.session, "key": i.key,
    }  # fmt: skip


def cli_main(argv: Sequence[str] | None = None, *, prog: str = "python -m theus_shm") -> int:
    """Run the CLI; returns the exit status (0 ok, 1 failure, 2 bad arguments)."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    try:
        if args.command == "ls":
            segments = list_segments(session=args.session)
            if args.json:
                print(json.dumps([_as_json(i) for i in segments], indent=1))
            else:
                print(format_table(segments))
        else:
            for name in scan_zombies(session=args.session, dry_run=args.dry_run):
                print(name)
    except (ShmError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    sys.exit(cli_main())
