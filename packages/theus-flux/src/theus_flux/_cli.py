"""``python -m theus_flux``: ``graph`` (Mermaid) and ``check`` (validate) a workflow.

Bad input exits non-zero with a one-line message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ._ir import Workflow
from ._mermaid import to_mermaid
from .exceptions import InvalidWorkflow

__all__ = ["main"]


def _load(path: str) -> Workflow:
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such workflow file: {path}")
    return Workflow.from_yaml(Path(path))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m theus_flux", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    graph = sub.add_parser("graph", help="print the workflow as a Mermaid flowchart")
    graph.add_argument("workflow")
    graph.add_argument("-o", "--output", help="write to this file instead of stdout")
    graph.add_argument("--direction", default="TD", choices=["TD", "TB", "BT", "LR", "RL"])
    check = sub.add_parser("check", help="validate a workflow file")
    check.add_argument("workflow")
    args = parser.parse_args(argv)
    try:
        workflow = _load(args.workflow)
        if args.command == "check":
            count = sum(1 for _ in workflow.walk())
            print(f"{args.workflow}: ok ({count} steps)")
            return 0
        text = to_mermaid(workflow, direction=args.direction)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0
    except InvalidWorkflow as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
