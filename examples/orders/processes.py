"""Processes of the order-processing agent (see README.md).

Every process is one atomic commit with an enforced contract: it can read only what it
declares and write only its outputs. Effects that leave the system (payment, shipping,
fraud review) go through the transactional outbox, so they exist only if the commit did.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import numpy as np

from theus import SemanticType, process
from theus_signals import OutboxMessage

FEATURES = 50_000  # per order: a HEAVY matrix of len(placed) x FEATURES float64


def _parallel_available() -> bool:
    """The risk step runs on the engine's worker pool (sub-interpreters or processes)
    unless THEUS_EXAMPLE_INPROCESS=1; see README.md."""
    return os.environ.get("THEUS_EXAMPLE_INPROCESS", "") != "1"


@process(inputs=["domain.inbox"], outputs=["domain.inbox"])
def admit_order(ctx: Any, order: dict[str, Any]) -> list[dict[str, Any]]:
    """Intake: audit.yaml checks `order` before this body runs (bad orders never land)."""
    return [*ctx.domain.inbox, dict(order)]


@process(inputs=["domain.inbox"], outputs=["domain.inbox", "domain.current"])
def take_next(ctx: Any) -> dict[str, Any]:
    head, *rest = ctx.domain.inbox
    return {"current": head, "inbox": rest}


@process(
    inputs=["domain.current", "domain.catalog", "domain.placed", "domain.revenue",
            "global.currency"],
    outputs=["domain.catalog", "domain.placed", "domain.revenue", "domain.sig_order_placed"],
)  # fmt: skip
def reserve_and_place(ctx: Any) -> dict[str, Any]:
    order = ctx.domain.current
    item = ctx.domain.catalog[order["sku"]]
    amount = round(item["price"] * order["qty"], 2)
    catalog = dict(ctx.domain.catalog)
    catalog[order["sku"]] = {**item, "stock": item["stock"] - order["qty"]}
    placed = {**order, "amount": amount, "status": "placed"}
    ctx.outbox.add(
        OutboxMessage(
            "payments.charge",
            {"order": order["id"], "amount": amount, "currency": ctx.global_.currency},
            key=f"charge-{order['id']}",
        )
    )
    ctx.outbox.add(
        OutboxMessage(
            "shipping.create",
            {"order": order["id"], "sku": order["sku"], "qty": order["qty"]},
            key=f"ship-{order['id']}",
        )
    )
    return {
        "catalog": catalog,
        "placed": [*ctx.domain.placed, placed],
        "revenue": round(ctx.domain.revenue + amount, 2),
        "sig_order_placed": {"order": order["id"], "amount": amount},
    }


@process(
    inputs=["domain.current", "domain.backordered"],
    outputs=["domain.backordered", "domain.sig_backordered"],
)
def backorder(ctx: Any) -> dict[str, Any]:
    order = ctx.domain.current
    return {
        "backordered": [*ctx.domain.backordered, {**order, "status": "backordered"}],
        "sig_backordered": {"order": order["id"], "sku": order["sku"]},
    }


@process(inputs=["domain.placed"], outputs=["domain.heavy_features"])
def build_features(ctx: Any) -> Any:
    """A HEAVY matrix, one row of FEATURES per placed order (never copied/snapshotted)."""
    rows = []
    for order in ctx.domain.placed:
        seed = zlib.crc32(f"{order['id']}:{order['email']}".encode())
        rng = np.random.default_rng(seed)
        rows.append(rng.standard_normal(FEATURES) * (1.0 + order["qty"] / 10.0))
    if not rows:
        return np.zeros((0, FEATURES))
    return np.vstack(rows)


@process(
    inputs=["domain.heavy_features"],
    outputs=["domain.risk"],
    parallel=_parallel_available(),
)
def score_risk(ctx: Any) -> list[float]:
    """The heavy step: a risk score per row of the feature matrix."""
    features = ctx.heavy["domain.heavy_features"]
    if features.shape[0] == 0:
        return []
    centered = features - features.mean(axis=1, keepdims=True)
    energy = np.sqrt((centered**2).mean(axis=1))
    peaks = np.abs(features).max(axis=1) / np.maximum(energy, 1e-12)
    return [round(float(s), 4) for s in energy * 0.5 + peaks * 0.1]


@process(
    inputs=["domain.placed", "domain.risk", "global.risk_threshold"],
    outputs=["domain.flagged", "domain.sig_review_requested"],
)
def flag_risky(ctx: Any) -> dict[str, Any]:
    flagged = [
        order["id"]
        for order, score in zip(ctx.domain.placed, ctx.domain.risk, strict=True)
        if score > ctx.global_.risk_threshold
    ]
    for order_id in flagged:
        ctx.outbox.add(OutboxMessage("fraud.review", {"order": order_id}, key=f"review-{order_id}"))
    return {"flagged": flagged, "sig_review_requested": len(flagged)}


@process(inputs=["domain.placed", "domain.backordered", "domain.flagged"],
         semantic=SemanticType.PURE)  # fmt: skip
def check_books(ctx: Any) -> None:
    """Invariant: an order is placed or backordered, never both."""
    placed = {o["id"] for o in ctx.domain.placed}
    back = {o["id"] for o in ctx.domain.backordered}
    if placed & back:
        raise ValueError(f"orders both placed and backordered: {sorted(placed & back)}")
    if not set(ctx.domain.flagged) <= placed:
        raise ValueError("a flagged order was never placed")
