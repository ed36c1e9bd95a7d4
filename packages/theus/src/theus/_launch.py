"""``theus run``: build an engine from files, run a workflow with progress, summarize.

Rules:
- The context comes from ``--context FILE`` (YAML or JSON), else from ``context.yaml``,
  ``context.yml`` or ``context.json`` beside the workflow, else it is empty. The audit
  recipe likewise: ``--audit FILE``, else ``audit.yaml``/``audit.yml`` beside the workflow.
  Files are only ever looked up next to the workflow, never in the working directory.
- Processes come from ``engine.scan`` of ``--processes`` (a module name or a ``.py`` file),
  else of the workflow's folder. Every process step of the workflow must resolve before
  anything runs, so a typo fails at once with the list of known processes.
- Every failure a user can cause becomes a :class:`CliError` (one line, no traceback).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from theus_audit import AuditError, AuditRecipe
from theus_flux import FluxError, FluxPaused, ProcessStep, Workflow
from theus_signals import OutboxMessage, SqliteOutboxStore
from theus_state import StateError

from ._engine import TheusEngine
from .exceptions import TheusError
from .progress import RunMonitor, summarize

__all__ = ["CliError", "RunRequest", "load_data_file", "run_request"]


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        self.code = code
        super().__init__(message)


def _yaml_line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    return f"{mark.line + 1}: {problem}" if mark is not None else str(problem)


def load_data_file(path: Path, what: str) -> Any:
    """Parse a YAML or JSON file (by suffix; YAML otherwise)."""
    if not path.is_file():
        raise CliError(f"{what} file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {what} file {path}: {exc}") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"{path}:{_yaml_line(exc)}") from None


def _beside(workflow: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        candidate = workflow.parent / name
        if candidate.is_file():
            return candidate
    return None


class RunRequest:
    """What ``theus run`` was asked to do (paths resolved, nothing loaded yet)."""

    def __init__(
        self,
        workflow: Path,
        *,
        processes: str | None = None,
        context: Path | None = None,
        audit: Path | None = None,
        outbox_db: Path | None = None,
        max_ops: int | None = None,
    ) -> None:
        self.workflow = workflow
        self.processes = processes
        self.context = context or _beside(workflow, ("context.yaml", "context.yml", "context.json"))
        self.audit = audit or _beside(workflow, ("audit.yaml", "audit.yml"))
        self.outbox_db = outbox_db
        self.max_ops = max_ops


def _load_workflow(path: Path) -> Workflow:
    if not path.is_file():
        raise CliError(f"workflow file not found: {path}")
    try:
        return Workflow.from_yaml(path)
    except FluxError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot read workflow {path}: {exc}") from None


def _load_context(path: Path | None) -> Any:
    if path is None:
        return {"domain": {}, "global": {}}
    data = load_data_file(path, "context")
    if data is None:
        return {"domain": {}, "global": {}}
    if not isinstance(data, Mapping):
        raise CliError(f"{path}: the context must be a mapping with 'domain'/'global' keys")
    return data


def _load_audit(path: Path | None) -> AuditRecipe | None:
    if path is None:
        return None
    if not path.is_file():
        raise CliError(f"audit recipe not found: {path}")
    try:
        return AuditRecipe.from_yaml(path)
    except (AuditError, OSError) as exc:
        raise CliError(str(exc)) from None


def build_engine(request: RunRequest, plugins: tuple[object, ...]) -> tuple[TheusEngine, Workflow]:
    workflow = _load_workflow(request.workflow)
    context = _load_context(request.context)
    recipe = _load_audit(request.audit)
    try:
        engine = TheusEngine(context, audit=recipe, plugins=plugins)
    except (StateError, TheusError, TypeError, ValueError) as exc:
        where = request.context or "context"
        raise CliError(f"{where}: invalid context: {exc}") from None
    target: Any = request.processes
    if target is None:
        target = request.workflow.parent
    elif target.endswith(".py") or os.sep in target or Path(target).is_dir():
        target = Path(target)
        if not target.exists():
            engine.close()
            raise CliError(f"processes not found: {target}")
    try:
        engine.scan(target)
    except (TheusError, ImportError, SyntaxError) as exc:
        engine.close()
        raise CliError(f"cannot load processes from {target}: {exc}") from None
    missing = sorted(
        {step.name for _, step in workflow.walk() if isinstance(step, ProcessStep)}
        - set(engine.processes)
    )
    if missing:
        known = ", ".join(sorted(engine.processes)) or "none"
        engine.close()
        raise CliError(
            f"{request.workflow}: no process for step(s) {', '.join(missing)} "
            f"(found in {target}: {known})"
        )
    return engine, workflow


def relay_to_sqlite(engine: TheusEngine, path: Path) -> tuple[int, int]:
    """Deliver the engine's pending outbox into a SQLite outbox store at ``path``
    (e.g. a downstream service's queue). Returns (delivered now, rows pending there)."""
    target = SqliteOutboxStore(path)
    try:

        def sink(message: OutboxMessage) -> None:
            target.append([message])

        delivered = engine.relay(sink).run_once()
        return delivered, len(target)
    finally:
        target.close()


def run_request(
    request: RunRequest,
    monitor: RunMonitor,
    *,
    live: Any = None,
    announce: Callable[[RunRequest], None] | None = None,
) -> tuple[dict[str, Any], TheusEngine]:
    """Run the workflow; returns (summary, engine). The caller closes the engine.
    ``announce(request)`` is called once everything loaded, before the run."""
    engine, workflow = build_engine(request, (monitor,))
    if announce is not None:
        announce(request)
    status = "ok"
    error: str | None = None
    monitor.title = workflow.name or request.workflow.stem
    monitor.reset()
    try:
        if live is not None:
            with live:
                engine.run_workflow(workflow, max_ops=request.max_ops)
        else:
            engine.run_workflow(workflow, max_ops=request.max_ops)
            monitor.stop()
    except FluxPaused as exc:  # a `flux: wait` step whose condition does not hold yet
        status = "paused"
        error = str(exc)
        monitor.stop()
    except Exception as exc:  # noqa: BLE001 - reported in the summary, exit status 1
        status = "failed"
        error = f"{type(exc).__name__}: {exc}"
        monitor.stop()
    extra: dict[str, Any] = {"workflow": str(request.workflow)}
    if error:
        extra["paused_at" if status == "paused" else "error"] = error
    if request.outbox_db is not None and status == "ok":
        try:
            _, there = relay_to_sqlite(engine, request.outbox_db)
        except Exception as exc:  # noqa: BLE001 - user-facing
            engine.close()
            raise CliError(f"cannot relay the outbox to {request.outbox_db}: {exc}") from None
        extra["x_outbox_db"] = f"{request.outbox_db} ({there} rows pending there)"
    summary = summarize(engine, monitor, status=status, extra=extra)
    summary["state"] = engine.state.to_dict()
    return summary, engine
