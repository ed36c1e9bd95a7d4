"""Journals: durability, restore, time travel, fork, prune, group commit, bad files."""

from __future__ import annotations

import datetime
import decimal
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theus_state import (
    DELETED,
    Codec,
    JournalError,
    JournalFormatError,
    JournalLocked,
    MemoryJournal,
    SerializationError,
    SqliteJournal,
    Store,
    VersionNotFound,
)


def durable(tmp_path: Path, name: str = "app.db", **kw: Any) -> SqliteJournal:
    return SqliteJournal(tmp_path / name, **kw)


@pytest.fixture(params=["memory", "sqlite"])
def journal_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    made: list[Any] = []

    def make(**kw: Any) -> Any:
        if request.param == "memory":
            kw.pop("snapshot_every", None)  # memory keeps every root: no snapshots needed
            j: Any = MemoryJournal(**kw)
        else:
            j = durable(tmp_path, f"j{len(made)}.db", **kw)
        made.append(j)
        return j

    yield make
    for j in made:
        j.close()


def test_restore_continues_where_it_stopped(tmp_path: Path) -> None:
    store = Store(
        {"domain": {"n": 0, "t": (1, "x"), "when": datetime.date(2026, 1, 2)}},
        journal=durable(tmp_path),
    )
    for _ in range(7):
        store.run_with_retry(lambda tx: tx.set("domain.n", tx.get("domain.n") + 1), key="w")
    with store.transaction() as tx:
        tx.set("domain.sig_done", {"ok": True})
        tx.delete("domain.when")
    expected = store.state.to_dict()
    store.close()
    again = Store.open(durable(tmp_path))
    assert again.state.version == 8
    assert again.state.to_dict() == expected
    assert dict(again.state.signals) == {"domain.sig_done": {"ok": True}}
    with again.transaction() as tx:
        tx.set("domain.n", 100)
    assert again.state.version == 9
    again.close()
    third = Store.open(durable(tmp_path))
    assert third.state.get("domain.n") == 100
    third.close()


def test_time_travel_over_500_commits(journal_factory: Any) -> None:
    store = Store({"domain": {"n": 0, "log": []}}, journal=journal_factory(snapshot_every=64))
    recorded = {0: store.state.to_dict()}
    for i in range(500):
        with store.transaction() as tx:
            tx.set("domain.n", i)
            if i % 7 == 0:
                tx.set("domain.log", [*tx.get("domain.log"), i])
            if i % 50 == 0:
                tx.set(f"domain.sig_{i}", i)
        recorded[store.state.version] = store.state.to_dict()
    for version, expected in recorded.items():
        assert store.at(version).to_dict() == expected, version
    assert store.at(51).signals == {"domain.sig_50": 50}
    assert store.at(52).signals == {}
    with pytest.raises(VersionNotFound, match="does not exist"):
        store.at(501)


def test_history_filters_by_path_overlap(journal_factory: Any) -> None:
    store = Store({"domain": {"user": {"name": "a", "age": 1}, "x": 0}}, journal=journal_factory())
    store.compare_and_swap(0, {"domain.user.name": "b"}, requester="alice")
    store.compare_and_swap(1, {"domain.x": 1})
    store.compare_and_swap(2, {"domain.user": {"name": "c"}})
    with store.transaction() as tx:
        tx.delete("domain.x")
    assert [r.version for r in store.history()] == [1, 2, 3, 4]
    assert [r.version for r in store.history("domain.user.name")] == [1, 3]
    assert [r.version for r in store.history("domain.user")] == [1, 3]
    first = next(iter(store.history()))
    assert (first.requester, dict(first.changes)) == ("alice", {"domain.user.name": "b"})
    assert dict(list(store.history("domain.x"))[-1].changes) == {"domain.x": DELETED}


def test_fork_diverges_without_touching_the_original(journal_factory: Any) -> None:
    store = Store({"domain": {"n": 0}}, journal=journal_factory())
    for i in range(1, 6):
        store.compare_and_swap(i - 1, {"domain.n": i})
    fork = store.fork(2, journal=journal_factory())
    assert fork.state.version == 2 and fork.state.get("domain.n") == 2
    fork.compare_and_swap(2, {"domain.n": 99})
    assert fork.state.version == 3 and fork.state.get("domain.n") == 99
    assert store.state.get("domain.n") == 5
    assert store.at(3).get("domain.n") == 3
    assert fork.at(2).get("domain.n") == 2


def test_prune_keeps_kept_versions_and_refuses_pruned_ones(journal_factory: Any) -> None:
    j = journal_factory(snapshot_every=10)
    store = Store({"domain": {"n": 0}}, journal=j)
    states = {}
    for i in range(1, 101):
        store.compare_and_swap(i - 1, {"domain.n": i})
        states[i] = i
    removed = j.prune(keep_last=25)
    assert removed >= 70
    for v in range(76, 101):
        assert store.at(v).get("domain.n") == states[v]
    with pytest.raises(VersionNotFound, match="was pruned") as info:
        store.at(10)
    assert isinstance(info.value, LookupError)
    store.compare_and_swap(100, {"domain.n": 101})  # still writable after pruning
    assert store.at(101).get("domain.n") == 101


def test_sqlite_keep_last_prunes_automatically(tmp_path: Path) -> None:
    j = durable(tmp_path, keep_last=20, snapshot_every=10)
    store = Store({"domain": {"n": 0}}, journal=j)
    for i in range(1, 201):
        store.compare_and_swap(i - 1, {"domain.n": i})
    rows = j.connection.execute("SELECT COUNT(*) FROM theus_commits").fetchone()[0]
    assert 20 <= rows <= 30
    assert store.at(181).get("domain.n") == 181
    with pytest.raises(VersionNotFound):
        store.at(5)
    j.close()


def test_memory_journal_is_bounded() -> None:
    store = Store({"domain": {"n": 0}}, journal=MemoryJournal(keep_last=5))
    for i in range(1, 21):
        store.compare_and_swap(i - 1, {"domain.n": i})
    assert len(store.journal) == 5  # type: ignore[arg-type]
    assert store.at(15).get("domain.n") == 15
    with pytest.raises(VersionNotFound):
        store.at(14)


def test_unserializable_value_fails_commit_naming_path(tmp_path: Path) -> None:
    class Local:  # a class defined in a function cannot be pickled
        pass

    j = durable(tmp_path)
    store = Store({"domain": {"n": 0}}, journal=j)
    store.compare_and_swap(0, {"domain.n": 1})
    before = store.state
    with pytest.raises(SerializationError) as info, store.transaction() as tx:
        tx.set("domain.n", 2)
        tx.set("domain.bad", {"inner": Local()})
    assert info.value.path == "domain.bad"
    assert "Local" in str(info.value)
    assert store.state is before  # memory unchanged
    j.close()
    again = Store.open(durable(tmp_path))
    assert again.state.version == 1 and again.state.get("domain.n") == 1  # file unchanged
    rows = again.journal.connection.execute("SELECT COUNT(*) FROM theus_commits")  # type: ignore[attr-defined]
    assert rows.fetchone()[0] == 1
    again.close()


def test_codec_without_pickle_fallback(tmp_path: Path) -> None:
    j = durable(tmp_path, codec=Codec(pickle_fallback=False))
    store = Store({"domain": {}}, journal=j)
    with pytest.raises(SerializationError, match="pickle is off"):
        store.compare_and_swap(0, {"domain.x": decimal.Context()})
    j.close()


def test_participant_rows_share_the_commit_transaction(tmp_path: Path) -> None:
    j = durable(tmp_path)
    j.connection.execute("CREATE TABLE side (version INTEGER)")
    store = Store({"domain": {"n": 0}}, journal=j)

    class Side:
        def __init__(self, fail: bool = False) -> None:
            self.fail = fail

        def on_commit(self, version: int, conn: sqlite3.Connection | None) -> None:
            assert conn is j.connection and conn.in_transaction
            conn.execute("INSERT INTO side VALUES (?)", (version,))
            if self.fail:
                raise OSError("participant failed after writing")

        def on_rollback(self) -> None:
            pass

    with store.transaction() as tx:
        tx.attach(Side())
        tx.set("domain.n", 1)
    with pytest.raises(OSError), store.transaction() as tx:
        tx.attach(Side(fail=True))
        tx.set("domain.n", 2)
    with store.transaction() as tx:  # a participant-only commit is durable too
        tx.attach(Side())
    rows = [r[0] for r in j.connection.execute("SELECT version FROM side ORDER BY version")]
    assert rows == [1, 1]  # the failed commit left no row
    assert store.state.version == 1
    j.close()


def test_group_commit_batch(tmp_path: Path) -> None:
    class Local:  # deep-copyable, but not picklable: fails in the journal, not before
        pass

    j = durable(tmp_path)
    store = Store({"domain": {"n": 0}}, journal=j)
    with store.batch():
        for i in range(1, 101):
            store.compare_and_swap(i - 1, {"domain.n": i})
        with pytest.raises(SerializationError):  # one failing commit rolls back alone
            store.compare_and_swap(100, {"domain.bad": Local()})
        assert store.state.version == 100
    j.close()
    again = Store.open(durable(tmp_path))
    assert again.state.version == 100 and again.state.get("domain.n") == 100
    again.close()


def test_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    j = durable(tmp_path)
    Store({"domain": {}}, journal=j)
    with pytest.raises(JournalLocked, match="open for writing by another process") as info:
        durable(tmp_path)
    assert isinstance(info.value, JournalError)
    reader = SqliteJournal(tmp_path / "app.db", readonly=True)  # readers are fine
    assert Store.open(reader).state.version == 0
    reader.close()
    j.close()
    durable(tmp_path).close()  # released on close


def test_bad_files(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalFormatError, match="corrupt.db"):
        SqliteJournal(corrupt)
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(JournalFormatError, match="foreign SQLite database"):
        SqliteJournal(foreign)
    newer = tmp_path / "newer.db"
    SqliteJournal(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE theus_meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(JournalFormatError, match="schema version 99 is newer"):
        SqliteJournal(newer)
    j = durable(tmp_path, "used.db")
    Store({"domain": {}}, journal=j)
    j.close()
    j = durable(tmp_path, "used.db")
    with pytest.raises(JournalError, match="use Store.open"):
        Store({"domain": {}}, journal=j)
    j.close()
    empty = durable(tmp_path, "empty.db")
    with pytest.raises(JournalError, match="empty"):
        Store.open(empty)
    empty.close()
    with pytest.raises(ValueError):
        SqliteJournal(tmp_path / "x.db", synchronous="SOMETIMES")


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes()
    | st.uuids(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5), children, max_size=4)
        | st.dictionaries(st.integers(), children, max_size=3)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(values)
def test_codec_round_trip(value: Any) -> None:
    codec = Codec()
    encoded = codec.dumps(codec.encode_value("domain.v", value))
    assert codec.decode(codec.loads(encoded)) == value


def test_codec_special_values() -> None:
    codec = Codec()
    for value in (
        float("inf"),
        2**80,
        {"$t": "user data"},
        uuid.UUID(int=5),
        datetime.timedelta(days=1, seconds=3),
        complex(1, 2),
    ):
        assert codec.decode(codec.loads(codec.dumps(codec.encode_value("p", value)))) == value


def test_time_travel_while_commits_happen_in_another_thread() -> None:
    import threading

    store = Store({"domain": {"n": 0}}, journal=MemoryJournal(keep_last=5))
    stop = threading.Event()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: widen any race
    wrong: list[tuple[int, Any]] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            store.apply({"domain.n": i})

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(20000):
            version = store.state.version
            try:
                value = store.at(version).get("domain.n")
            except VersionNotFound:
                continue  # pruned meanwhile: fine, as long as it is never wrong
            if value != version:
                wrong.append((version, value))
            list(store.history())
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(interval)
    assert wrong == []


def test_memory_journal_counts_commits_and_prunes_to_zero() -> None:
    journal = MemoryJournal(keep_last=3)
    store = Store({"domain": {"n": 0}}, journal=journal)
    assert len(journal) == 0 and journal.keep_last == 3
    for i in range(1, 3):
        store.apply({"domain.n": i})
    assert len(journal) == 2
    assert store.at(0).get("domain.n") == 0  # the base is still reachable
    for i in range(3, 9):
        store.apply({"domain.n": i})
    assert len(journal) == 3
    assert [r.version for r in store.history()] == [6, 7, 8]
    assert store.at(5).get("domain.n") == 5  # the base of the kept commits
    with pytest.raises(VersionNotFound) as info:
        store.at(4)
    assert info.value.pruned and (info.value.oldest, info.value.latest) == (5, 8)
    with pytest.raises(VersionNotFound) as info:
        store.at(9)
    assert not info.value.pruned
    assert journal.prune(keep_last=0) == 3
    assert len(journal) == 0 and list(store.history()) == []
    assert store.at(8).get("domain.n") == 8
    store.apply({"domain.n": 9})
    assert [r.version for r in store.history()] == [9]
    with pytest.raises(ValueError, match="keep_last"):
        MemoryJournal(keep_last=0)


def test_unbounded_memory_journal_keeps_everything() -> None:
    store = Store({"domain": {"n": 0}}, journal=MemoryJournal(keep_last=None))
    for i in range(1, 201):
        store.apply({"domain.n": i})
    assert len(store.journal) == 200  # type: ignore[arg-type]
    assert all(store.at(v).get("domain.n") == v for v in range(201))


def test_readers_get_frozen_maps_never_storage_nodes(tmp_path: Path) -> None:
    """The tree stores raw nodes; every way out hands a FrozenMap (nested ones too)."""
    from theus_state import FrozenList, FrozenMap, freeze

    for journal in (MemoryJournal(), durable(tmp_path)):
        store = Store({"domain": {"cfg": {"a": {"b": 1}}, "items": [{"x": 1}]}}, journal=journal)
        with store.transaction() as tx:
            tx.set("domain.user", {"name": "ann", "tags": {"t": 1}})
            tx.set("domain.sig_evt", {"kind": "made"})
            assert type(tx.get("domain.user")) is FrozenMap
            assert type(tx.writes["domain.user"]) is FrozenMap
            assert type(tx.signal_writes["domain.sig_evt"]) is FrozenMap
        state = store.state
        user = state.get("domain.user")
        assert type(user) is FrozenMap and type(user["tags"]) is FrozenMap
        assert type(user.tags) is FrozenMap and type(user.get("tags")) is FrozenMap
        assert all(type(v) is FrozenMap for k, v in user.items() if k == "tags")
        assert type(state.get("domain.cfg").a) is FrozenMap
        assert type(state.domain) is FrozenMap and type(state.domain.cfg) is FrozenMap
        assert type(state.root) is FrozenMap and type(state.root["domain"]) is FrozenMap
        items = state.get("domain.items")
        assert type(items) is FrozenList and type(items[0]) is FrozenMap
        assert type(state.signals["domain.sig_evt"]) is FrozenMap
        assert type(store.at(1).get("domain.user")) is FrozenMap
        (record,) = store.history()
        assert type(record.changes["domain.user"]) is FrozenMap
        assert user == {"name": "ann", "tags": {"t": 1}} and user.to_dict()["tags"] == {"t": 1}
        assert state.to_dict()["domain"]["user"] == {"name": "ann", "tags": {"t": 1}}
        assert freeze(user) == user and hash(freeze({"k": 1})) == hash(freeze({"k": 1}))
        with store.transaction() as tx:  # a FrozenMap read back is written again as is
            tx.set("domain.copy", user)
        assert store.state.get("domain.copy") == user
        journal.close()
    reopened = Store.open(durable(tmp_path))
    try:
        assert type(reopened.state.get("domain.user")) is FrozenMap
        assert type(reopened.state.get("domain.user").tags) is FrozenMap
    finally:
        reopened.close()
