"""Watching an engine at work: a hook plugin that counts what happens, a live rich
progress line, and the end-of-run summary printed by ``theus run`` and the demo.

Rules / theory of operation:
- :class:`RunMonitor` is an ordinary engine plugin (pass it in ``TheusEngine(plugins=[...])``
  or ``engine.plugin_manager.register``). It implements ``theus_workflow_step`` and
  ``theus_commit`` (plus ``theus_process_before`` for the current process name, rollbacks,
  audit violations, signal publications and outbox deliveries) and only counts: every
  hook is O(1) under one lock, nothing is rendered from inside a hook.
- Rendering happens on rich's refresh thread (:meth:`RunMonitor.live`), which reads the
  counters through :meth:`RunMonitor.__rich__`; the commit rate is commits divided by the
  time since the monitor started (or was :meth:`reset`).
- :func:`summarize` gathers the final figures (state version, audit counters, signals,
  outbox) into a JSON-ready dict; :func:`render_summary` turns it into a rich table.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

import theus_signals

from .hookspecs import hookimpl

if TYPE_CHECKING:
    from ._engine import TheusEngine

__all__ = ["RunMonitor", "render_summary", "summarize"]


class RunMonitor:
    """Counts workflow steps, ops, commits, rollbacks, audit violations, signals and
    outbox deliveries of the engines it is registered with."""

    def __init__(self, title: str = "theus") -> None:
        self.title = title
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.started = time.monotonic()
            self.finished: float | None = None
            self.ops = 0
            self.steps = 0
            self.failed_steps = 0
            self.commits = 0
            self.rollbacks = 0
            self.violations = 0
            self.violation_keys: Counter[str] = Counter()
            self.signals: Counter[str] = Counter()
            self.delivered = 0
            self.delivery_failures = 0
            self.current: str = ""
            self.version = 0

    # -- engine hooks -------------------------------------------------------------------
    @hookimpl
    def theus_workflow_step(
        self,
        engine: TheusEngine,
        step_path: str,
        name: str | None,
        phase: str,
        error: BaseException | None,
    ) -> None:
        with self._lock:
            if phase == "start":
                self.ops += 1
                if name is not None:
                    self.current = name
            elif name is not None:
                self.steps += 1
                if error is not None:
                    self.failed_steps += 1

    @hookimpl
    def theus_process_before(
        self, engine: TheusEngine, process: Any, kwargs: Mapping[str, Any]
    ) -> None:
        with self._lock:
            self.current = process.name

    @hookimpl
    def theus_commit(self, engine: TheusEngine, version: int, paths: tuple[str, ...]) -> None:
        with self._lock:
            self.commits += 1
            self.version = max(self.version, version)

    @hookimpl
    def theus_rollback(
        self,
        engine: TheusEngine,
        version: int,
        paths: tuple[str, ...],
        error: BaseException | None,
    ) -> None:
        with self._lock:
            self.rollbacks += 1

    @hookimpl
    def theus_audit_violation(self, engine: TheusEngine, violation: Any) -> None:
        with self._lock:
            self.violations += 1
            self.violation_keys[str(getattr(violation, "key", "?"))] += 1

    # -- leaf hooks (the engine registers its plugins with every leaf) ----------------------
    @theus_signals.hookimpl
    def signals_publish(self, hub: Any, message: Any, receivers: int) -> None:
        with self._lock:
            self.signals[message.topic] += 1

    @theus_signals.hookimpl
    def signals_deliver(self, relay: Any, message: Any) -> None:
        with self._lock:
            self.delivered += 1

    @theus_signals.hookimpl
    def signals_delivery_failure(
        self, relay: Any, message: Any, error: Exception, attempt: int, retry_in: float
    ) -> None:
        with self._lock:
            self.delivery_failures += 1

    # -- figures ------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        end = self.finished if self.finished is not None else time.monotonic()
        return max(end - self.started, 1e-9)

    @property
    def commits_per_s(self) -> float:
        return self.commits / self.elapsed

    def stop(self) -> None:
        """Freeze the clock (the summary's duration and rate)."""
        with self._lock:
            if self.finished is None:
                self.finished = time.monotonic()

    def __rich__(self) -> Text:
        with self._lock:
            line = Text.assemble(
                (f"{self.title} ", "bold cyan"),
                ("step ", "dim"),
                (f"{self.current or '-':<20} ", "bold"),
                ("steps ", "dim"),
                (f"{self.steps:>5} ", ""),
                ("ops ", "dim"),
                (f"{self.ops:>5} ", ""),
                ("commits ", "dim"),
                (f"{self.commits:>6} ", ""),
                (f"{self.commits_per_s:>9.0f}/s ", "green"),
                ("v", "dim"),
                (str(self.version), ""),
            )
        return line

    @contextlib.contextmanager
    def live(self, console: Console | None = None, *, enabled: bool = True) -> Iterator[None]:
        """Show a live progress line while the block runs (a no-op when ``enabled`` is
        false or the console is not a terminal)."""
        console = console or Console(stderr=True)
        if not enabled or not console.is_terminal:
            try:
                yield
            finally:
                self.stop()
            return
        spinner = Spinner("dots", text=self)
        with Live(Group(spinner), console=console, refresh_per_second=12, transient=True):
            try:
                yield
            finally:
                self.stop()


def summarize(
    engine: TheusEngine,
    monitor: RunMonitor,
    *,
    status: str = "ok",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The end-of-run figures as a JSON-ready dict."""
    audit = engine.audit
    counts = {k: v for k, v in sorted(audit.counts().items()) if v}
    try:
        pending = len(engine.outbox)
    except TypeError:
        pending = -1
    out: dict[str, Any] = {
        "status": status,
        "state_version": engine.state.version,
        "steps": monitor.steps,
        "failed_steps": monitor.failed_steps,
        "ops": monitor.ops,
        "commits": monitor.commits,
        "rollbacks": monitor.rollbacks,
        "commits_per_s": round(monitor.commits_per_s, 1),
        "duration_s": round(monitor.elapsed, 4),
        "audit": {
            "violations": monitor.violations,
            "by_rule": dict(sorted(monitor.violation_keys.items())),
            "counters": counts,
            "blocked": {k: list(v) for k, v in audit.blocked().items()},
            "stopped": audit.stopped,
        },
        "signals": {"published": sum(monitor.signals.values()), "topics": dict(monitor.signals)},
        "outbox": {
            "pending": pending,
            "delivered": monitor.delivered,
            "failures": monitor.delivery_failures,
        },
    }
    if extra:
        out.update(extra)
    return out


def render_summary(summary: Mapping[str, Any], title: str = "Summary") -> Table:
    """A two-column rich table of :func:`summarize`'s dict."""
    table = Table(title=Text(title), show_header=False, title_style="bold", min_width=50)
    table.add_column("what", style="dim")
    table.add_column("value")
    add_row = table.add_row

    def row(label: str, value: str | Text) -> None:  # values are plain text, never markup
        add_row(label, value if isinstance(value, Text) else Text(value))

    status = str(summary.get("status", "ok"))
    styles = {"ok": "bold green", "paused": "bold yellow"}
    row("status", Text(status, style=styles.get(status, "bold red")))
    row("state version", str(summary["state_version"]))
    row(
        "steps / ops",
        f"{summary['steps']} steps, {summary['ops']} ops"
        + (f" ({summary['failed_steps']} failed)" if summary["failed_steps"] else ""),
    )
    row(
        "commits",
        f"{summary['commits']} ({summary['commits_per_s']:.0f}/s), "
        f"{summary['rollbacks']} rollbacks, {summary['duration_s']:.3f} s",
    )
    audit = summary["audit"]
    counters = ", ".join(f"{k}={v}" for k, v in audit["counters"].items()) or "none"
    by_rule = ", ".join(f"{k}: {n}" for k, n in audit.get("by_rule", {}).items())
    row("audit violations", str(audit["violations"]) + (f" ({by_rule})" if by_rule else ""))
    row("audit counters", counters)
    if audit["blocked"]:
        row("audit blocked", ", ".join(audit["blocked"]))
    if audit["stopped"]:
        row("audit", Text("STOPPED (engine.audit.reset() to resume)", style="red"))
    sig = summary["signals"]
    topics = ", ".join(f"{t}: {n}" for t, n in sorted(sig["topics"].items()))
    row("signals published", f"{sig['published']}" + (f" ({topics})" if topics else ""))
    box = summary["outbox"]
    row(
        "outbox",
        f"{box['pending']} pending, {box['delivered']} delivered"
        + (f", {box['failures']} delivery failures" if box["failures"] else ""),
    )
    for key, value in summary.items():
        if key.startswith("x_"):
            row(key[2:].replace("_", " "), str(value))
    return table
