"""A bank: transfers processed by a Flux workflow, audited, with an outbox relayed to a
durable SQLite store and signals published for each transfer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from theus import TheusEngine, process
from theus_audit import AuditAbortError
from theus_signals import OutboxMessage, SqliteOutboxStore

WORKFLOW = """
name: bank
steps:
  - flux: while
    condition: "len(domain.queue) > 0"
    do:
      - take_next
      - flux: if
        condition: "domain.current.amount <= domain.accounts.get(domain.current.src, 0)"
        then: [transfer]
        else: [reject]
"""

RECIPE = {
    "level": "A",
    "processes": {
        "transfer": {
            "inputs": [{"field": "current", "max_len": 4}],
            "outputs": [{"field": "accounts", "min_len": 1}],
        },
    },
}


@process(inputs=["domain.queue"], outputs=["domain.queue", "domain.current"])
def take_next(ctx):  # type: ignore[no-untyped-def]
    queue = list(ctx.domain.queue)
    return queue[1:], queue[0]


@process(
    inputs=["domain.current", "domain.accounts"],
    outputs=["domain.accounts", "domain.sig_transferred"],
    errors=["ValueError"],
)
def transfer(ctx):  # type: ignore[no-untyped-def]
    t = ctx.domain.current
    accounts = dict(ctx.domain.accounts)
    if accounts.get(t["src"], 0) < t["amount"]:
        raise ValueError("insufficient funds")
    accounts[t["src"]] -= t["amount"]
    accounts[t["dst"]] = accounts.get(t["dst"], 0) + t["amount"]
    ctx.domain.sig_transferred = dict(t)
    ctx.outbox.add(OutboxMessage("bank.transfer", dict(t), key=f"tx-{t['id']}"))
    return {"accounts": accounts}


@process(inputs=["domain.current"], outputs=["domain.rejected"])
def reject(ctx):  # type: ignore[no-untyped-def]
    return ctx.domain.current["id"]


def make(queue: list[dict[str, Any]]) -> TheusEngine:
    engine = TheusEngine(
        {
            "domain": {
                "accounts": {"alice": 100, "bob": 20},
                "queue": queue,
                "current": None,
                "rejected": None,
            }
        },
        audit=RECIPE,
    )
    for fn in (take_next, transfer, reject):
        engine.register(fn)
    return engine


def test_bank_workflow_end_to_end(tmp_path: Path) -> None:
    queue = [
        {"id": 1, "src": "alice", "dst": "bob", "amount": 30},
        {"id": 2, "src": "bob", "dst": "carol", "amount": 500},  # rejected
        {"id": 3, "src": "bob", "dst": "alice", "amount": 50},
    ]
    engine = make(queue)
    signals: list[Any] = []
    engine.signals.on("domain.sig_transferred", lambda m: signals.append(m.payload["id"]))
    executed = engine.run_workflow(WORKFLOW)
    assert executed == ["take_next", "transfer", "take_next", "reject", "take_next", "transfer"]
    assert engine.state.get("domain.accounts") == {"alice": 120, "bob": 0}
    assert engine.state.get("domain.rejected") == 2
    assert signals == [1, 3]

    durable = SqliteOutboxStore(tmp_path / "outbox.db")
    try:
        relay = engine.relay(lambda m: durable.append([m]))
        assert relay.run_once() == 2
        assert [m.key for m in durable.pending()] == ["tx-1", "tx-3"]
        assert relay.run_once() == 0  # delivered: nothing twice
    finally:
        durable.close()


def test_audit_abort_stops_the_workflow_and_keeps_committed_steps() -> None:
    engine = make([{"id": 9, "src": "alice", "dst": "bob", "amount": 1, "extra": "x"}])
    with pytest.raises(Exception) as info:
        engine.run_workflow(WORKFLOW)
    assert isinstance(info.value.__cause__, AuditAbortError) or isinstance(
        info.value, AuditAbortError
    )
    assert engine.state.get("domain.queue") == []  # take_next committed
    assert engine.state.get("domain.accounts") == {"alice": 100, "bob": 20}
    assert len(engine.outbox) == 0
