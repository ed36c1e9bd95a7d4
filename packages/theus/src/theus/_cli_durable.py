"""``theus history`` and ``theus resume``: the CLI over durable journals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ._launch import CliError

__all__ = ["history", "resume"]


# -- durable journals ------------------------------------------------------------------------
def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@click.command()
@click.argument("db", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--path", "path", help="only commits that wrote this path (or above/below it)")
@click.option("--limit", type=click.IntRange(min=1), help="only the last N commits")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table")
def history(db: Path, path: str | None, limit: int | None, as_json: bool) -> int:
    """Commit history of a durable journal DB (read-only; safe while an engine runs)."""
    from theus_state import DELETED, InvalidPath, JournalError, SqliteJournal, Store, thaw

    try:
        journal = SqliteJournal(db, readonly=True)
    except JournalError as exc:
        raise CliError(str(exc)) from None
    try:
        try:
            records = list(Store.open(journal).history(path))
        except InvalidPath as exc:
            raise CliError(f"--path: {exc}") from None
        if limit is not None:
            records = records[-limit:]

        def shown(v: Any) -> Any:
            return "<deleted>" if v is DELETED else thaw(v)

        if as_json:
            for r in records:
                changes = {k: shown(v) for k, v in r.changes.items()}
                line = {"version": r.version, "ts": r.ts, "requester": r.requester}
                click.echo(json.dumps({**line, "changes": changes}, default=repr))
            return 0
        from rich.table import Table

        table = Table(title=f"{db.name}: {len(records)} commit(s)")
        for column in ("version", "time", "requester", "changes"):
            table.add_column(column)
        import datetime

        for r in records:
            when = datetime.datetime.fromtimestamp(r.ts).isoformat(" ", "seconds")
            text = ", ".join(f"{k}={shown(v)!r}" for k, v in r.changes.items())
            table.add_row(str(r.version), when, r.requester or "", text)
        Console(highlight=False).print(table)
    finally:
        journal.close()
    return 0


@click.command()
@click.argument("db", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("run_id")
@click.option(
    "--processes", "-p", required=True, help="module name or .py file/folder with the processes"
)
@click.option(
    "--signal",
    "-s",
    "signals",
    multiple=True,
    metavar="NAME=VALUE",
    help="commit a SIGNAL first (e.g. cmd_approve=true); VALUE is JSON or text",
)
def resume(db: Path, run_id: str, processes: str, signals: tuple[str, ...]) -> int:
    """Resume workflow RUN_ID of the durable engine DB from its last committed step."""
    from theus_flux import FluxPaused
    from theus_state import JournalError

    from . import TheusEngine
    from .exceptions import TheusError

    given: dict[str, Any] = {}
    for item in signals:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--signal {item!r}: expected NAME=VALUE")
        given[name] = _value(raw)
    try:
        engine = TheusEngine.open(db)
    except JournalError as exc:
        raise CliError(str(exc)) from None
    try:
        try:
            engine.scan(processes)
            executed = engine.resume_workflow(run_id, **given)
        except FluxPaused as exc:
            click.echo(f"{run_id}: paused at {exc.step_path} (waiting until {exc.condition})")
            return 0
        except TheusError as exc:
            raise CliError(str(exc)) from None
        click.echo(
            f"{run_id}: complete after {len(executed)} step(s); state version "
            f"{engine.state.version}"
        )
    finally:
        engine.close()
    return 0
