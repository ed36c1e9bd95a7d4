"""Property: committed transactions are equivalent to a serial execution (same values
read, same final state), whatever the interleaving. The serial order is explicit:
writers in commit order; a read-only transaction right after the commit that produced
the snapshot it started from (it commits nothing, so it serializes at its snapshot)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from theus_state import ConflictError, Store

KEYS = ["a", "b", "c", "d.x", "d.y"]


@st.composite
def schedules(draw: st.DrawFn) -> tuple[list[list[tuple[str, str]]], list[int]]:
    n_tx = draw(st.integers(2, 5))
    programs = []
    for _ in range(n_tx):
        ops = draw(
            st.lists(
                st.tuples(st.sampled_from(["r", "w"]), st.sampled_from([*KEYS, "d"])),
                min_size=1,
                max_size=5,
            )
        )
        programs.append(ops)
    # each tx needs len(ops) steps plus one commit step
    steps = [i for i, ops in enumerate(programs) for _ in range(len(ops) + 1)]
    order = draw(st.permutations(steps))
    return programs, order


def _value(tx_id: int, step: int, seen: list[object], key: str) -> object:
    v = f"t{tx_id}s{step}:{len(seen)}:{hash(tuple(map(repr, seen))) % 997}"
    return {"x": v, "y": v} if key == "d" else v  # "d" stays a mapping


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_committed_transactions_are_serializable(
    case: tuple[list[list[tuple[str, str]]], list[int]],
) -> None:
    programs, order = case
    init = {"a": 0, "b": 0, "c": 0, "d": {"x": 0, "y": 0}}
    store = Store({"domain": init})
    txs: dict[int, object] = {}
    pos = dict.fromkeys(range(len(programs)), 0)
    seen: dict[int, list[object]] = {i: [] for i in range(len(programs))}
    committed: list[tuple[int, int, int]] = []  # (version, 0 writer | 1 reader, tx_id)
    for tx_id in order:
        tx = txs.get(tx_id)
        if tx is None:
            tx = txs[tx_id] = store.transaction()
        ops = programs[tx_id]
        i = pos[tx_id]
        pos[tx_id] += 1
        if i < len(ops):
            kind, key = ops[i]
            path = f"domain.{key}"
            if kind == "r":
                v = tx.get(path, None)  # type: ignore[attr-defined]
                seen[tx_id].append(v.to_dict() if hasattr(v, "to_dict") else v)
            else:
                tx.set(path, _value(tx_id, i, seen[tx_id], key))  # type: ignore[attr-defined]
        else:
            try:
                version = tx.commit()  # type: ignore[attr-defined]
            except ConflictError:
                continue
            if any(kind == "w" for kind, _ in ops):
                committed.append((version, 0, tx_id))
            else:
                committed.append((tx.version, 1, tx_id))  # type: ignore[attr-defined]

    # Replay committed transactions serially, in commit order, on a fresh store.
    serial = Store({"domain": init})
    for _v, _kind, tx_id in sorted(committed):
        replay_seen: list[object] = []
        with serial.transaction() as tx:
            for i, (kind, key) in enumerate(programs[tx_id]):
                path = f"domain.{key}"
                if kind == "r":
                    v = tx.get(path, None)
                    replay_seen.append(v.to_dict() if hasattr(v, "to_dict") else v)
                else:
                    tx.set(path, _value(tx_id, i, replay_seen, key))
        assert replay_seen == seen[tx_id], f"tx {tx_id} read different values serially"
    assert serial.state.to_dict() == store.state.to_dict()
    writers = [c for c in committed if c[1] == 0]
    assert store.state.version == len(writers)
    assert sorted(c[0] for c in writers) == list(range(1, len(writers) + 1))
