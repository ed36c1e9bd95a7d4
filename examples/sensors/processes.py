"""Processes of the sensors example: readings, alerts through signals and the outbox."""

from __future__ import annotations

from typing import Any

from theus import process
from theus_signals import OutboxMessage


@process(inputs=["domain.readings"], outputs=["domain.readings", "domain.reading"])
def next_reading(ctx: Any) -> dict[str, Any]:
    head, *rest = ctx.domain.readings
    return {"reading": head, "readings": rest}


@process(
    inputs=["domain.reading", "domain.window", "global.window_size"],
    outputs=["domain.window", "domain.average"],
)
def update_average(ctx: Any) -> dict[str, Any]:
    window = [*ctx.domain.window, ctx.domain.reading["celsius"]][-ctx.global_.window_size :]
    return {"window": window, "average": round(sum(window) / len(window), 2)}


@process(
    inputs=["domain.reading", "domain.average", "domain.alerts"],
    outputs=["domain.alerts", "domain.sig_overheat"],
)
def raise_alert(ctx: Any) -> dict[str, Any]:
    reading = ctx.domain.reading
    alert = {"sensor": reading["sensor"], "at": reading["t"], "average": ctx.domain.average}
    ctx.outbox.add(
        OutboxMessage("pager.page", alert, key=f"page-{reading['sensor']}-{reading['t']}")
    )
    return {"alerts": [*ctx.domain.alerts, alert], "sig_overheat": alert}


@process(inputs=["domain.average", "domain.setpoint"], outputs=["domain.setpoint"])
def adjust_setpoint(ctx: Any) -> float:
    return round(ctx.domain.setpoint - 0.5, 1) if ctx.domain.average > 25 else ctx.domain.setpoint
