#!/usr/bin/env python3
"""The Theus demo: an order-processing agent, end to end (``python3 dev.py demo``).

1. Intake: generated orders go through the audited ``admit_order`` process. Audit rules
   (examples/orders/audit.yaml) abort bad orders before anything is written; a C-level
   rule only counts large orders.
2. Fulfilment: the Flux workflow examples/orders/workflow.yaml places or backorders each
   admitted order (one atomic commit each, signals published after each commit, payment
   and shipping requests in the transactional outbox), builds a HEAVY numpy feature
   matrix and scores it in a ``parallel=True`` step on the engine's worker pool
   (in-process with --in-process).
3. Delivery: the outbox is relayed into a SQLite outbox store (a downstream queue) in a
   temporary folder; nothing is written into the working directory.

Options: --orders N, --seed S, --json (machine-readable summary), --in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

HERE = Path(__file__).resolve().parent / "orders"
SKUS = ["widget", "gadget", "gizmo"]
COUNTRIES = ["FR", "DE", "VN", "US", "GB"]


def generate_orders(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` orders, about a fifth of them bad in one way or another."""
    rng = random.Random(seed)
    orders = []
    for i in range(n):
        order: dict[str, Any] = {
            "id": f"D-{2000 + i}",
            "sku": rng.choice(SKUS),
            "qty": rng.choice([1, 1, 2, 3, 5, 8, 24]),
            "country": rng.choice(COUNTRIES),
            "email": f"customer{i}@example.com",
        }
        flaw = rng.random()
        if flaw < 0.05:
            order["qty"] = 0
        elif flaw < 0.10:
            order["sku"] = "unobtainium"
        elif flaw < 0.15:
            order["country"] = "XX"
        elif flaw < 0.20:
            order["email"] = "not-an-email"
        orders.append(order)
    return orders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=60, help="orders to generate")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--in-process", action="store_true", help="no worker pool")
    args = parser.parse_args(argv)
    if args.orders < 0:
        parser.error("--orders must be >= 0")
    if args.in_process:
        os.environ["THEUS_EXAMPLE_INPROCESS"] = "1"

    # imported here so that --in-process is seen when processes.py is loaded
    from theus import TheusEngine
    from theus.progress import RunMonitor, render_summary, summarize
    from theus_audit import AuditError
    from theus_signals import SqliteOutboxStore

    console = Console(stderr=args.json, highlight=False)
    if not args.json:
        console.print(
            Panel.fit(
                "[bold]Theus demo[/]: an order-processing agent\n"
                "audited intake -> Flux workflow (atomic steps, signals, outbox) -> "
                "HEAVY parallel risk scoring -> outbox relayed to SQLite",
                border_style="cyan",
            )
        )
    context = yaml.safe_load((HERE / "context.yaml").read_text(encoding="utf-8"))
    context["domain"]["inbox"] = []
    for item in context["domain"]["catalog"].values():  # a bigger warehouse for the demo
        item["stock"] *= 3
    monitor = RunMonitor("order-agent")
    engine = TheusEngine(context, audit=HERE / "audit.yaml", plugins=[monitor])
    engine.scan(HERE / "processes.py")
    events: list[str] = []
    engine.signals.on("domain.sig_backordered", lambda m: events.append(m.payload["order"]))

    blocked: dict[str, str] = {}
    orders = generate_orders(args.orders, args.seed)
    with tempfile.TemporaryDirectory(prefix="theus-demo-") as tmp:
        queue_path = Path(tmp) / "downstream.db"
        with monitor.live(console, enabled=not args.json):
            # 1. intake: audit refuses bad orders, nothing written for them
            for order in orders:
                try:
                    engine.run("admit_order", order=order)
                except AuditError as exc:
                    blocked[order["id"]] = "; ".join(r.split(": ", 1)[-1] for r in exc.reasons)
                    if not args.json:
                        console.print(
                            Text.assemble(
                                "  ", ("blocked", "red"), f" {order['id']}: {blocked[order['id']]}"
                            )
                        )
            admitted = len(engine.state.get("domain.inbox"))
            # 2. fulfilment: the Flux workflow
            engine.run_workflow(HERE / "workflow.yaml")
            # 3. delivery: relay the outbox into a SQLite outbox store
            downstream = SqliteOutboxStore(queue_path)
            try:
                delivered = engine.relay(lambda m: downstream.append([m])).run_once()
                by_topic: dict[str, int] = {}
                for message in downstream.pending(limit=10_000):
                    by_topic[message.topic] = by_topic.get(message.topic, 0) + 1
            finally:
                downstream.close()
        state = engine.state
        pool = engine.get_pool().kind if engine.processes["score_risk"].parallel else None
        placed = state.get("domain.placed")
        catalog = state.get("domain.catalog")
        summary = summarize(
            engine,
            monitor,
            extra={
                "x_orders": f"{len(orders)} received, {admitted} admitted, {len(blocked)} "
                f"blocked by audit",
                "x_fulfilment": f"{len(placed)} placed, "
                f"{len(state.get('domain.backordered'))} backordered, "
                f"revenue {state.get('domain.revenue')} {state.get('global.currency')}",
                "x_risk_step": f"parallel on the '{pool}' pool"
                if pool
                else "in-process (HEAVY numpy)",
                "x_flagged_for_review": ", ".join(state.get("domain.flagged")) or "none",
                "x_sqlite_outbox": f"{delivered} relayed: "
                + ", ".join(f"{t}: {n}" for t, n in sorted(by_topic.items())),
                "orders": {
                    "received": len(orders),
                    "admitted": admitted,
                    "blocked": blocked,
                    "placed": [o["id"] for o in placed],
                    "backordered": [o["id"] for o in state.get("domain.backordered")],
                    "flagged": list(state.get("domain.flagged")),
                    "revenue": state.get("domain.revenue"),
                    "stock": {sku: item["stock"] for sku, item in catalog.items()},
                },
                "risk_step": pool or "in-process",
                "sqlite": {"delivered": delivered, "by_topic": by_topic},
            },
        )
    engine.close()
    ok = admitted + len(blocked) == len(orders) and all(
        item["stock"] >= 0 for item in catalog.values()
    )
    summary["status"] = "ok" if ok else "failed"
    if args.json:
        print(json.dumps(summary, indent=2, default=repr))
    else:
        console.print(render_summary(summary, title="order-agent summary"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
