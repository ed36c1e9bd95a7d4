"""theus.progress: the RunMonitor plugin, its live display and the summary."""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from theus import TheusEngine, process
from theus.progress import RunMonitor, render_summary, summarize
from theus_signals import OutboxMessage


@process(inputs=["domain.n"], outputs=["domain.n", "domain.sig_n"])
def inc(ctx):  # type: ignore[no-untyped-def]
    ctx.outbox.add(OutboxMessage("n", ctx.domain.n))
    return {"n": ctx.domain.n + 1, "sig_n": ctx.domain.n}


@process(inputs=["domain.n"], outputs=["domain.n"])
def fail(ctx):  # type: ignore[no-untyped-def]
    ctx.domain.n = -1
    raise RuntimeError("nope")


def _engine(monitor: RunMonitor, **kw: object) -> TheusEngine:
    engine = TheusEngine({"domain": {"n": 0}}, plugins=[monitor], **kw)  # type: ignore[arg-type]
    engine.register(inc)
    engine.register(fail)
    return engine


def test_monitor_counts_steps_commits_signals_rollbacks_deliveries() -> None:
    monitor = RunMonitor()
    with _engine(monitor) as engine:
        engine.run_workflow(
            "steps:\n  - flux: while\n    condition: 'domain.n < 3'\n    do: [inc]\n"
        )
        with pytest.raises(RuntimeError):
            engine.run("fail")
        failures = iter([RuntimeError("down")])

        def sink(message: OutboxMessage) -> None:
            err = next(failures, None)
            if err is not None:
                raise err

        relay = engine.relay(sink)
        relay.run_once()
        assert monitor.delivery_failures == 1
        summary = summarize(engine, monitor)
    assert monitor.steps == 3
    assert monitor.ops == 4  # the while step + 3 process steps
    assert monitor.commits == 3
    assert monitor.rollbacks == 1
    assert dict(monitor.signals) == {"domain.sig_n": 3}
    assert summary["state_version"] == 3
    assert summary["outbox"]["failures"] == 1
    assert summary["outbox"]["pending"] + summary["outbox"]["delivered"] == 3
    assert summary["audit"]["counters"] == {"fail:error": 1}


def test_monitor_is_thread_safe() -> None:
    monitor = RunMonitor()
    with _engine(monitor) as engine:
        threads = [
            threading.Thread(target=lambda: [engine.run("inc") for _ in range(50)])
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert engine.state.get("domain.n") == 200
    assert monitor.commits == 200
    assert monitor.signals["domain.sig_n"] == 200


def test_live_display_renders_on_a_terminal() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    monitor = RunMonitor("demo")
    with _engine(monitor) as engine, monitor.live(console):
        engine.run("inc")
    assert monitor.finished is not None
    assert "commits" in buffer.getvalue()  # the live line was drawn (then cleared)
    rendered = Console(file=io.StringIO(), width=120)
    with rendered.capture() as cap:
        rendered.print(monitor)
    line = cap.get()
    for part in ("demo", "step", "inc", "steps", "ops", "commits", "/s", "v1"):
        assert part in line, (part, line)


def test_live_is_a_no_op_when_not_a_terminal_or_disabled() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False)
    monitor = RunMonitor()
    with monitor.live(console):
        pass
    with monitor.live(Console(file=buffer, force_terminal=True), enabled=False):
        pass
    assert buffer.getvalue() == ""


def test_render_summary_lists_every_figure() -> None:
    monitor = RunMonitor()
    with _engine(monitor, audit={"processes": {"inc": {"inputs": [
        {"field": "n", "max": 0, "level": "C"}]}}}) as engine:  # fmt: skip
        engine.run("inc")
        engine.run("inc")
        summary = summarize(engine, monitor, extra={"x_custom_row": "hello"})
    console = Console(file=io.StringIO(), width=200)
    with console.capture() as cap:
        console.print(render_summary(summary))
    out = cap.get()
    assert "state version" in out and " 2 " in out
    assert "inc:inputs:n:max: 1" in out  # violation by rule
    assert "domain.sig_n: 2" in out
    assert "2 pending, 0 delivered" in out
    assert "custom row" in out and "hello" in out
