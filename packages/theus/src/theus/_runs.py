"""Workflow runs that survive a crash: their record and position.

Rules / theory of operation:
- A run has an id, the workflow's YAML text (so any process can resume it), a status
  (``running``, ``paused``, ``failed``, ``complete``) and the position of its last
  completed process step (``theus_flux.Position``, stored as JSON).
- The position after a process step is written by a commit participant attached to that
  step's own transaction: with a durable journal it is one more row update in the same
  SQL transaction as the step's state delta and outbox rows, so after a crash (even
  SIGKILL) either the step and its position both exist or neither does. Resuming starts
  at the first step after the stored position: no committed step runs twice, none is
  skipped.
- Without a durable journal the records live in memory (resumable within the process,
  e.g. after a ``flux: wait`` pause).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from theus_flux import Position

from .exceptions import TheusError

__all__ = ["RunRecord", "RunStore", "journal_transaction"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS theus_runs (
    run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL,
    position TEXT, error TEXT, updated REAL NOT NULL)
"""


def journal_transaction(journal: Any, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn(conn)`` in its own SQL transaction on a durable journal's connection
    (serialised with the store's commits by the journal's lock)."""
    conn = journal.begin()
    try:
        result = fn(conn)
        journal.commit()
    except BaseException:
        journal.rollback()
        raise
    return result


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    workflow: Any  # YAML text (durable runs) or the Workflow object (in-memory runs)
    status: str
    position: Position | None
    error: str | None = None


class _PositionParticipant:
    """Writes a run's position inside the step's commit."""

    __slots__ = ("position", "run_id", "runs")

    def __init__(self, runs: RunStore, run_id: str, position: Position) -> None:
        self.runs = runs
        self.run_id = run_id
        self.position = position

    def on_commit(self, version: int, conn: sqlite3.Connection | None) -> None:
        self.runs._write_position(self.run_id, self.position, conn)

    def on_rollback(self) -> None:
        return None


class RunStore:
    def __init__(self, journal: Any) -> None:
        self._journal = journal
        self._durable = bool(getattr(journal, "durable", False)) and hasattr(journal, "begin")
        self._memory: dict[str, RunRecord] = {}
        self._lock = threading.Lock()
        if self._durable:
            self._sql(lambda conn: conn.execute(_SCHEMA))

    def _sql(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return journal_transaction(self._journal, fn)

    def create(self, run_id: str, workflow: Any) -> None:
        if not isinstance(run_id, str) or not run_id:
            raise TheusError(f"run_id must be a non-empty string, not {run_id!r}")
        existing = self.get(run_id, missing_ok=True)
        if existing is not None:
            raise TheusError(
                f"workflow run {run_id!r} already exists ({existing.status}); "
                "use resume_workflow to continue it"
            )
        record = RunRecord(run_id, workflow, "running", None)
        if self._durable:
            self._sql(
                lambda conn: conn.execute(
                    "INSERT INTO theus_runs VALUES (?, ?, 'running', NULL, NULL, ?)",
                    (run_id, workflow, time.time()),
                )
            )
        else:
            with self._lock:
                self._memory[run_id] = record

    def get(self, run_id: str, *, missing_ok: bool = False) -> RunRecord | None:
        if self._durable:
            row = self._sql(
                lambda conn: conn.execute(
                    "SELECT workflow, status, position, error FROM theus_runs WHERE run_id = ?",
                    (run_id,),
                ).fetchone()
            )
            record = None
            if row is not None:
                pos = Position.from_dict(json.loads(row[2])) if row[2] else None
                record = RunRecord(run_id, row[0], row[1], pos, row[3])
        else:
            record = self._memory.get(run_id)
        if record is None and not missing_ok:
            raise TheusError(f"no workflow run {run_id!r}")
        return record

    def participant(self, run_id: str, position: Position) -> _PositionParticipant:
        return _PositionParticipant(self, run_id, position)

    def _write_position(
        self, run_id: str, position: Position, conn: sqlite3.Connection | None
    ) -> None:
        if conn is not None:
            conn.execute(
                "UPDATE theus_runs SET position = ?, updated = ? WHERE run_id = ?",
                (json.dumps(position.to_dict()), time.time(), run_id),
            )
        else:
            with self._lock:
                old = self._memory[run_id]
                self._memory[run_id] = RunRecord(run_id, old.workflow, old.status, position)

    def set_status(
        self,
        run_id: str,
        status: str,
        *,
        position: Position | None = None,
        error: str | None = None,
    ) -> None:
        if self._durable:
            pos = json.dumps(position.to_dict()) if position is not None else None
            self._sql(
                lambda conn: conn.execute(
                    "UPDATE theus_runs SET status = ?, error = ?, updated = ?,"
                    " position = COALESCE(?, position) WHERE run_id = ?",
                    (status, error, time.time(), pos, run_id),
                )
            )
        else:
            with self._lock:
                old = self._memory[run_id]
                self._memory[run_id] = RunRecord(
                    run_id, old.workflow, status, position or old.position, error
                )

    def list(self) -> list[RunRecord]:
        if self._durable:
            rows = self._sql(
                lambda conn: conn.execute(
                    "SELECT run_id FROM theus_runs ORDER BY updated"
                ).fetchall()
            )
            return [r for (rid,) in rows if (r := self.get(rid)) is not None]
        return list(self._memory.values())
