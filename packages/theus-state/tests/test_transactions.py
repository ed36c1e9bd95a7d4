"""Transactions: atomicity, isolation, zones, participants."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theus_state import (
    InvalidPath,
    PathNotFound,
    Store,
    TransactionClosed,
    ZoneViolation,
    freeze,
)


def make() -> Store:
    return Store(
        {
            "domain": {"user": {"name": "a", "age": 1}, "count": 0, "const_id": 7},
            "global": {"rate": 2, "const_cfg": {"mode": "x"}},
            "local": {"tmp": 0},
        }
    )


def test_commit_bumps_version_once_and_publishes() -> None:
    store = make()
    with store.transaction() as tx:
        tx.set("domain.count", 1)
        tx.set("domain.user.name", "b")
        tx.set("domain.new.deep.field", [1])  # creates intermediate mappings
        assert tx.version == 0
    assert store.state.version == 1
    assert store.state.get("domain.count") == 1
    assert store.state.get("domain.new.deep.field") == [1]


def test_empty_commit_keeps_version_and_state() -> None:
    store = make()
    before = store.state
    with store.transaction() as tx:
        tx.get("domain.count")
    assert store.state is before


def test_rollback_leaves_version_data_and_snapshots_unchanged() -> None:
    store = make()
    snap = store.state
    before = snap.to_dict()
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as tx:
        tx.set("domain.count", 5)
        tx.set("domain.user", {"name": "z"})
        tx.delete("global.rate")
        raise RuntimeError("boom")
    assert tx.status == "rolled back"
    assert store.state is snap
    assert store.state.version == 0
    assert snap.to_dict() == before
    tx2 = store.transaction()
    tx2.set("domain.count", 9)
    tx2.rollback()
    assert store.state is snap
    with pytest.raises(TransactionClosed):
        tx2.commit()
    with pytest.raises(TransactionClosed):
        tx2.set("domain.count", 1)


def test_reads_see_snapshot_plus_own_writes_only() -> None:
    store = make()
    tx = store.transaction()
    tx.set("domain.count", 10)
    store.compare_and_swap(0, {"domain.user.age": 30})  # another commit
    assert tx.get("domain.count") == 10
    assert tx.get("domain.user.age") == 1  # snapshot isolation
    assert store.state.get("domain.count") == 0  # not visible before commit
    tx.set("domain.user", {"name": "q"})
    tx.set("domain.user.age", 4)  # write order is kept on replay
    assert tx.get("domain.user") == {"name": "q", "age": 4}
    tx.delete("domain.user.age")
    assert tx.get("domain.user") == {"name": "q"}
    with pytest.raises(PathNotFound):
        tx.delete("domain.nothing")
    with pytest.raises(InvalidPath):
        tx.delete("domain")


def test_write_through_scalar_intermediate_is_invalid() -> None:
    store = make()
    with pytest.raises(InvalidPath, match="'domain.count' holds a int"), store.transaction() as tx:
        tx.set("domain.count.x", 1)
    assert store.state.version == 0


def test_constant_fields_are_refused() -> None:
    store = make()
    attempts = [
        lambda tx: tx.set("domain.const_id", 8),
        lambda tx: tx.set("domain.const_new", 1),
        lambda tx: tx.set("global.const_cfg.mode", "y"),
        lambda tx: tx.delete("domain.const_id"),
        lambda tx: tx.set("domain", {"user": {}}),  # would drop const_id
        lambda tx: tx.set("global", {"rate": 1, "const_cfg": {"mode": "z"}}),
        lambda tx: tx.delete("global"),
    ]
    for attempt in attempts:
        with pytest.raises((ZoneViolation, InvalidPath)) as info, store.transaction() as tx:
            attempt(tx)
        if isinstance(info.value, ZoneViolation):
            assert isinstance(info.value, PermissionError)
            assert info.value.zone == "CONSTANT"
    with pytest.raises(ZoneViolation):
        store.compare_and_swap(0, {"domain.const_id": 1})
    assert store.state.version == 0
    # rewriting a parent that keeps the constant unchanged is allowed
    with store.transaction() as tx:
        tx.set("global", {"rate": 5, "const_cfg": {"mode": "x"}})
    assert store.state.get("global.rate") == 5


def test_a_frozen_mapping_value_is_checked_for_constants_like_a_dict() -> None:
    # a FrozenMap (e.g. read from the state) is already frozen, so it is not routed:
    # its CONSTANT fields must still be compared with what the path holds
    store = make()
    cfg = store.state.get("global.const_cfg")  # a FrozenMap, not a CONSTANT itself
    holder = store.state.get("global")  # a FrozenMap holding the CONSTANT const_cfg
    for attempt in (
        lambda tx: tx.set("domain.copy", holder),  # would create a new CONSTANT
        lambda tx: tx.set("global", freeze({"rate": 1, "const_cfg": {"mode": "z"}})),
        lambda tx: tx.set("global", freeze({"rate": 1})),  # would drop it
    ):
        with pytest.raises(ZoneViolation), store.transaction() as tx:
            attempt(tx)
    with pytest.raises(ZoneViolation):
        store.compare_and_swap(store.state.version, {"domain.copy": holder})
    assert "domain.copy" not in store.state
    with store.transaction() as tx:  # the same constant, unchanged: allowed
        tx.set("global", freeze({"rate": 6, "const_cfg": cfg}))
        tx.set("domain.plain", cfg)  # no CONSTANT inside: a plain copy
    assert store.state.get("global.rate") == 6
    assert store.state.get("domain.plain") == {"mode": "x"}


def test_heavy_writes_go_through_without_copy_and_survive_rollback() -> None:
    store = make()
    big = bytearray(1024)
    snap = store.state
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.set("domain.heavy_buf", big)
        assert store.state.get("domain.heavy_buf") is big  # visible at once
        tx.set("domain.count", 1)
        raise RuntimeError
    assert store.state.version == 0
    assert store.state.get("domain.heavy_buf") is big  # survived the rollback
    assert snap.get("domain.heavy_buf") is big  # never snapshotted
    assert store.state.domain.heavy_buf is big
    assert "heavy_buf" not in store.state.to_dict()["domain"]
    models = {"enc": bytearray(2)}
    with store.transaction() as tx:
        tx.set("domain.models", {"heavy_weights": models, "name": "m"})
    assert store.state.get("domain.models.heavy_weights") is models
    assert store.state.get("domain.models.heavy_weights.enc") is models["enc"]
    # reading the mapping shows its HEAVY field in place, by reference, as the layer
    # view does; to_dict() keeps DATA only
    assert store.state.get("domain.models") == {"name": "m", "heavy_weights": models}
    assert store.state.get("domain.models")["heavy_weights"] is models
    assert store.state.domain.models.heavy_weights is models
    assert store.state.to_dict()["domain"]["models"] == {"name": "m"}
    with store.transaction() as tx:
        tx.set("domain.models.heavy_weights.enc", b"new")  # writes inside the object
    assert models["enc"] == b"new"
    with store.transaction() as tx:
        tx.delete("domain.heavy_buf")
    assert store.state.get("domain.heavy_buf", None) is None


def test_signals_live_in_one_snapshot_only() -> None:
    store = make()
    with store.transaction() as tx:
        tx.set("domain.sig_done", {"id": 1})
        tx.set("domain.count", 1)
    s1 = store.state
    assert s1.get("domain.sig_done") == {"id": 1}
    assert dict(s1.signals) == {"domain.sig_done": {"id": 1}}
    assert "sig_done" not in s1.to_dict()["domain"]
    with store.transaction() as tx:
        tx.set("domain.count", 2)
    assert store.state.get("domain.sig_done", None) is None
    assert dict(store.state.signals) == {}
    assert s1.get("domain.sig_done") == {"id": 1}  # old snapshot unchanged
    # a signal-only commit is a change: it bumps the version
    with store.transaction() as tx:
        tx.set("domain.cmd_stop", True)
    assert store.state.version == 3
    # signals nested in a written mapping are routed as signals
    with store.transaction() as tx:
        tx.set("domain.job", {"sig_started": 1, "n": 1})
    assert dict(store.state.signals) == {"domain.job.sig_started": 1}
    with store.transaction() as tx:
        tx.set("domain.count", 3)
    assert store.state.get("domain.job") == {"n": 1}


def test_local_writes_are_dropped_at_commit() -> None:
    store = make()
    with store.transaction() as tx:
        tx.set("local.tmp", 5)
        tx.set("local.other", 1)
        assert tx.get("local.tmp") == 5
        tx.set("domain.count", 1)
    assert store.state.get("local.tmp") == 0
    assert store.state.get("local.other", None) is None
    # also when the commit is replayed on a moved store
    tx = store.transaction()
    tx.set("local.tmp", 7)
    tx.set("domain.user.age", 3)
    store.compare_and_swap(1, {"domain.count": 2})
    tx.commit()
    assert store.state.get("local.tmp") == 0
    assert store.state.get("domain.user.age") == 3


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, object]] = []
        self.fail = fail

    def on_commit(self, version: int, conn: object) -> None:
        self.calls.append(("commit", version))
        assert conn is None
        if self.fail:
            raise OSError("disk full")

    def on_rollback(self) -> None:
        self.calls.append(("rollback", None))


def test_participants_commit_with_the_version() -> None:
    store = make()
    rec = Recorder()
    with store.transaction() as tx:
        tx.attach(rec)
        tx.set("domain.count", 1)
    assert rec.calls == [("commit", 1)]
    rec2 = Recorder()
    with store.transaction() as tx:  # a participant-only commit keeps the version
        tx.attach(rec2)
    assert rec2.calls == [("commit", 1)]
    rec3 = Recorder()
    with pytest.raises(ValueError), store.transaction() as tx:
        tx.attach(rec3)
        tx.set("domain.count", 2)
        raise ValueError
    assert rec3.calls == [("rollback", None)]


def test_raising_participant_aborts_the_commit() -> None:
    store = make()
    ok, bad = Recorder(), Recorder(fail=True)
    snap = store.state
    with pytest.raises(OSError, match="disk full"), store.transaction() as tx:
        tx.attach(ok)
        tx.attach(bad)
        tx.set("domain.count", 1)
    assert store.state is snap
    assert ok.calls == [("commit", 1), ("rollback", None)]
    assert bad.calls == [("commit", 1), ("rollback", None)]
    with store.transaction() as tx:  # the store still works and reuses the version
        tx.set("domain.count", 1)
    assert store.state.version == 1


def test_concurrent_readers_never_see_partial_commits() -> None:
    store = Store({"domain": {"a": 0, "b": 0}})
    stop = threading.Event()
    bad: list[tuple[int, int]] = []

    def reader() -> None:
        while not stop.is_set():
            s = store.state
            a, b = s.get("domain.a"), s.get("domain.b")
            if a != b:
                bad.append((a, b))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(1, 3000):
        with store.transaction() as tx:
            tx.set("domain.a", i)
            tx.set("domain.b", i)
    stop.set()
    for t in threads:
        t.join()
    assert bad == []
    assert store.state.version == 2999


PATHS = ["domain.a", "domain.a.p", "domain.a.q", "domain.a.sig_s", "domain.b", "domain.sig_t"]
VALUES = st.one_of(
    st.integers(0, 3),
    st.dictionaries(st.sampled_from(["p", "q", "sig_s"]), st.integers(0, 3), max_size=3),
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(PATHS), VALUES),
        st.tuples(st.just("delete"), st.sampled_from(PATHS), st.none()),
    ),
    max_size=8,
)


def _run_ops(store: Store, ops: list[Any], move: bool) -> list[str]:
    outcomes = []
    tx = store.transaction()
    for op, path, value in ops:
        try:
            if op == "set":
                tx.set(path, value)
            else:
                tx.delete(path)
            outcomes.append("ok")
        except (PathNotFound, InvalidPath) as exc:
            outcomes.append(type(exc).__name__)
    if move:  # another commit, on a path this transaction never touches
        store.compare_and_swap(store.state.version, {"global.other": 1})
    tx.commit()
    return outcomes


@settings(max_examples=300, deadline=None)
@given(start=st.sampled_from([{"a": 5}, {"a": {"p": 1}}, {}]), ops=OPS)
def test_a_replayed_commit_equals_the_private_root(start: dict[str, Any], ops: list[Any]) -> None:
    # when another commit moved the store, the writes are replayed on the current state:
    # the result must be what the transaction saw (its private root), signals included
    direct, replayed = Store({"domain": start}), Store({"domain": start})
    assert _run_ops(direct, ops, move=False) == _run_ops(replayed, ops, move=True)
    assert replayed.state.to_dict()["domain"] == direct.state.to_dict()["domain"]
    assert replayed.state.signals == direct.state.signals
    for path in direct.state.signals:  # a signal emitted is in its commit's snapshot
        assert direct.state.get(path) == direct.state.signals[path]


@pytest.mark.parametrize("move", [False, True])
def test_a_write_below_a_missing_signal_field_emits_only_that_signal(move: bool) -> None:
    # the SIGNAL mapping the write creates on its way is not a signal of its own
    store = Store({"domain": {}})
    with store.transaction() as tx:
        tx.set("domain.sig_s.p", [1])
        assert tx.signal_writes == {"domain.sig_s.p": [1]}
        if move:
            store.compare_and_swap(store.state.version, {"global.other": 1})
    assert dict(store.state.signals) == {"domain.sig_s.p": [1]}
    assert store.state.get("domain.sig_s") == {"p": [1]}
    assert [list(r.changes) for r in store.history()][-1] == ["domain.sig_s.p"]


def test_signals_are_gone_from_the_next_snapshot_with_the_mapping_they_created() -> None:
    store = Store({"domain": {}})
    with store.transaction() as tx:
        tx.set("domain.sig_t.p", 1)
    assert store.state.get("domain.sig_t") == {"p": 1}
    store.apply({"domain.n": 1})
    assert "domain.sig_t" not in store.state
    assert dict(store.state.signals) == {}


def test_a_signal_written_inside_the_previous_signal_survives_its_clearing() -> None:
    # the previous commit's signal ``sig_t`` is cleared; this commit's ``sig_t.p`` (and
    # only it) is in the snapshot
    store = Store({"domain": {}})
    store.apply({"domain.sig_t": {"old": 1}})
    with store.transaction() as tx:
        tx.set("domain.sig_t.p", 2)
    assert dict(store.state.signals) == {"domain.sig_t.p": 2}
    assert store.state.get("domain.sig_t") == {"p": 2}
    store.apply({"domain.sig_t.q": 3})
    assert store.state.get("domain.sig_t") == {"q": 3}
    assert store.at(2).get("domain.sig_t") == {"p": 2}
    assert dict(store.at(2).signals) == {"domain.sig_t.p": 2}
