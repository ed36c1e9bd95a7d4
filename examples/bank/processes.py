"""Processes of the bank example: transfers as atomic, contract-checked commits."""

from __future__ import annotations

from typing import Any

from theus import SemanticType, process


@process(inputs=["domain.pending"], outputs=["domain.pending", "domain.transfer"])
def take_transfer(ctx: Any) -> dict[str, Any]:
    head, *rest = ctx.domain.pending
    return {"transfer": head, "pending": rest}


@process(
    inputs=["domain.transfer", "domain.accounts", "domain.ledger"],
    outputs=["domain.accounts", "domain.ledger", "domain.sig_transferred"],
)
def apply_transfer(ctx: Any) -> dict[str, Any]:
    t = ctx.domain.transfer
    accounts = dict(ctx.domain.accounts)
    accounts[t["src"]] = accounts[t["src"]] - t["amount"]
    accounts[t["dst"]] = accounts.get(t["dst"], 0) + t["amount"]
    return {
        "accounts": accounts,
        "ledger": [*ctx.domain.ledger, dict(t)],
        "sig_transferred": {"src": t["src"], "dst": t["dst"], "amount": t["amount"]},
    }


@process(inputs=["domain.transfer", "domain.rejected"], outputs=["domain.rejected"])
def reject_transfer(ctx: Any) -> list[dict[str, Any]]:
    return [*ctx.domain.rejected, {**ctx.domain.transfer, "reason": "insufficient funds"}]


@process(inputs=["domain.accounts", "global.total_money"], semantic=SemanticType.PURE)
def check_books(ctx: Any) -> None:
    """Invariant: transfers move money, they never create or destroy it."""
    total = sum(ctx.domain.accounts.values())
    if total != ctx.global_.total_money:
        raise ValueError(f"books do not balance: {total} != {ctx.global_.total_money}")
