"""The ``theus`` command line (also ``python -m theus``).

Commands: ``init``, ``run``, ``check``, ``audit gen-spec``, ``audit inspect``,
``flux graph``, ``shm ls|gc``, ``history``, ``resume``. Every failure a user can cause
(bad arguments, missing or invalid files, a failing workflow) ends with a one-line
``theus: error: ...`` on stderr and a non-zero status: 2 for usage errors, 1 otherwise.
Tracebacks appear only with ``THEUS_DEBUG=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from ._cli_durable import history, resume
from ._launch import CliError, RunRequest, run_request
from ._version import __version__
from .progress import RunMonitor, render_summary

__all__ = ["cli", "main"]

_PATH = click.Path(path_type=Path)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="theus")
def cli() -> None:
    """Theus: Process-Oriented Programming with a transactional context, contracts,
    Flux workflows, audit, signals and shared memory."""


# -- init ----------------------------------------------------------------------------------
@cli.command()
@click.argument("name")
@click.option(
    "--template",
    "-t",
    type=click.Choice(["minimal", "ecommerce", "agent", "parallel"]),
    default="minimal",
    show_default=True,
    help="project template",
)
@click.option("--force", is_flag=True, help="write into an existing non-empty directory")
def init(name: str, template: str, force: bool) -> int:
    """Scaffold a runnable project NAME (a folder) whose tests pass with `pytest`."""
    from ._scaffold import scaffold

    target = scaffold(Path(name), template, force=force)
    out = Console(highlight=False)
    out.print(Text.assemble(("created", "green"), f" {target} (template {template})"))
    out.print(f"  cd {name}")
    out.print("  theus run workflow.yaml     # run the workflow with a progress display")
    out.print("  theus check processes.py    # lint the processes")
    out.print("  python -m pytest            # run its tests")
    return 0


# -- run -----------------------------------------------------------------------------------
@cli.command()
@click.argument("workflow", type=_PATH)
@click.option(
    "--processes",
    "-p",
    metavar="MODULE_OR_FILE",
    help="module name, .py file or folder to scan (default: the workflow's folder)",
)
@click.option(
    "--context",
    "-c",
    type=_PATH,
    help="initial context (YAML or JSON); default: context.yaml beside the workflow",
)
@click.option(
    "--audit",
    "-a",
    type=_PATH,
    help="audit recipe (YAML); default: audit.yaml beside the workflow",
)
@click.option(
    "--outbox-db",
    type=_PATH,
    help="after the run, relay the outbox into a SQLite outbox store at this path",
)
@click.option("--max-ops", type=click.IntRange(min=1), help="Flux operation limit")
@click.option("--json", "as_json", is_flag=True, help="print the summary (and state) as JSON")
@click.option("--no-progress", is_flag=True, help="no live progress display")
@click.option("--show-state", is_flag=True, help="print the final state after the summary")
def run(
    workflow: Path,
    processes: str | None,
    context: Path | None,
    audit: Path | None,
    outbox_db: Path | None,
    max_ops: int | None,
    as_json: bool,
    no_progress: bool,
    show_state: bool,
) -> int:
    """Run a Flux WORKFLOW with a live progress display and a final summary."""
    request = RunRequest(
        workflow,
        processes=processes,
        context=context,
        audit=audit,
        outbox_db=outbox_db,
        max_ops=max_ops,
    )
    err = _stderr()

    def announce(req: RunRequest) -> None:
        if as_json:
            return
        used = [f"workflow {req.workflow}"]
        if req.context:
            used.append(f"context {req.context}")
        if req.audit:
            used.append(f"audit {req.audit}")
        used.append(f"processes {req.processes or req.workflow.parent}")
        err.print(Text(", ".join(used), style="dim"), soft_wrap=True)

    monitor = RunMonitor()
    live = monitor.live(err, enabled=not (no_progress or as_json))
    summary, engine = run_request(request, monitor, live=live, announce=announce)
    try:
        if as_json:
            click.echo(json.dumps(summary, indent=2, default=repr, ensure_ascii=False))
        else:
            out = Console(highlight=False)
            out.print(render_summary(summary, title=f"theus run {workflow.name}: {monitor.title}"))
            if show_state:
                out.print_json(json.dumps(summary["state"], default=repr))
    finally:
        engine.close()
    if summary["status"] == "paused":
        err.print(Text(f"paused at {summary['paused_at']}", style="yellow"), soft_wrap=True)
    elif summary["status"] != "ok":
        raise CliError(f"{workflow}: workflow failed: {summary.get('error')}")
    return 0


# -- check ---------------------------------------------------------------------------------
@cli.command()
@click.argument("paths", nargs=-1, required=True, type=_PATH)
def check(paths: tuple[Path, ...]) -> int:
    """Static POP linter: undeclared reads/writes, in-place mutation of inputs, I/O in PURE
    processes. Prints `file:line: CODE message`; exits 1 when anything is found."""
    from ._lint import lint_paths

    try:
        findings, files = lint_paths(list(paths))
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    for finding in findings:
        click.echo(str(finding))
    noun = "finding" if len(findings) == 1 else "findings"
    click.echo(f"{len(findings)} {noun} in {files} file(s)", err=True)
    return 1 if findings else 0


# -- audit ---------------------------------------------------------------------------------
@cli.group()
def audit() -> None:
    """Audit recipes: generate a skeleton, inspect a process's rules."""


@audit.command("gen-spec")
@click.option(
    "--processes",
    "-p",
    default=".",
    show_default=True,
    metavar="MODULE_OR_FILE",
    help="module name, .py file or folder to scan",
)
@click.option("--output", "-o", type=_PATH, help="write the recipe here instead of stdout")
def gen_spec(processes: str, output: Path | None) -> int:
    """Write a YAML audit recipe skeleton for the processes found."""
    from ._auditspec import generate_spec

    text = generate_spec(processes)
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(output, text)
        click.echo(f"wrote {output}", err=True)
    return 0


@audit.command("inspect")
@click.argument("process")
@click.option(
    "--recipe",
    "-r",
    type=_PATH,
    default=Path("audit.yaml"),
    show_default=True,
    help="the recipe file",
)
def inspect_cmd(process: str, recipe: Path) -> int:
    """Show the rules, levels and thresholds that apply to PROCESS."""
    from ._auditspec import inspect_table

    console = Console(highlight=False)
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(highlight=False, width=200)
    console.print(inspect_table(recipe, process))
    return 0


# -- flux ----------------------------------------------------------------------------------
@cli.group()
def flux() -> None:
    """Flux workflows."""


_RENDERED = {".png", ".pdf"}
_TEXT = {".mmd", ".mermaid", ".md", ".markdown"}


@flux.command("graph")
@click.argument("workflow", type=_PATH)
@click.option(
    "--output",
    "-o",
    type=_PATH,
    help="write to FILE: .mmd/.md (Mermaid text), .svg (built-in renderer) or .png/.pdf "
    "(needs mermaid-cli)",
)
@click.option(
    "--direction",
    type=click.Choice(["TD", "TB", "BT", "LR", "RL"]),
    default="TD",
    show_default=True,
)
def graph(workflow: Path, output: Path | None, direction: str) -> int:
    """Render WORKFLOW as a Mermaid flowchart (stdout by default) or an SVG drawing."""
    from theus_flux import FluxError, Workflow, to_mermaid, to_svg

    if not workflow.is_file():
        raise CliError(f"workflow file not found: {workflow}")
    try:
        loaded = Workflow.from_yaml(workflow)
        text = to_mermaid(loaded, direction=direction)
    except FluxError as exc:
        raise CliError(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
        return 0
    suffix = output.suffix.lower()
    if suffix in _TEXT:
        body = f"```mermaid\n{text}```\n" if suffix in (".md", ".markdown") else text
        _write(output, body)
    elif suffix == ".svg":
        _write(output, to_svg(loaded))
    elif suffix in _RENDERED:
        _render(text, output)
    else:
        raise CliError(
            f"cannot write {output}: unknown format {suffix or '(none)'} "
            "(use .mmd, .md, .svg, .png or .pdf)"
        )
    click.echo(f"wrote {output}", err=True)
    return 0


def _render(text: str, output: Path) -> None:
    mmdc = shutil.which("mmdc")
    if mmdc is None:
        raise CliError(
            f"cannot write {output}: rendering {output.suffix} needs mermaid-cli (`mmdc` on "
            "PATH: npm install -g @mermaid-js/mermaid-cli); use -o FILE.mmd or FILE.md instead"
        )
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "graph.mmd"
        source.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [mmdc, "-i", str(source), "-o", str(output)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise CliError(f"mermaid-cli failed to render {output}: {last}")


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


# -- durable journals ----------------------------------------------------------------------
cli.add_command(history)
cli.add_command(resume)


# -- shm -----------------------------------------------------------------------------------
@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def shm(args: tuple[str, ...]) -> int:
    """Shared memory segments: `theus shm ls [--session S] [--json]`,
    `theus shm gc [--session S] [--dry-run]` (see theus-shm)."""
    from theus_shm import cli_main

    return cli_main(list(args), prog="theus shm")


# -- entry point ---------------------------------------------------------------------------
def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return (or, as a console script, exit with) its status."""
    args = list(sys.argv[1:] if argv is None else argv)
    status: Any
    try:
        status = cli.main(args, prog_name="theus", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx is not None else "usage: theus COMMAND")
        status = 0
    except click.ClickException as exc:
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        click.echo(f"theus: error: {_one_line(exc.format_message())}{hint}", err=True)
        status = exc.exit_code
    except click.exceptions.Abort:
        click.echo("theus: aborted", err=True)
        status = 1
    except CliError as exc:
        click.echo(f"theus: error: {_one_line(str(exc))}", err=True)
        status = exc.code
    except KeyboardInterrupt:
        click.echo("theus: interrupted", err=True)
        status = 130
    except Exception as exc:
        if os.environ.get("THEUS_DEBUG"):
            raise
        click.echo(
            f"theus: error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(THEUS_DEBUG=1 shows the traceback)",
            err=True,
        )
        status = 1
    if argv is None:
        sys.exit(status if isinstance(status, int) else 0)
    return status if isinstance(status, int) else 0
