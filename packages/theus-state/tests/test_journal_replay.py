"""Property: what a journal gives back is what the live store held.

Random transactions (nested writes, deletes, mappings that route SIGNAL fields, writes
refused by the zones, commits replayed after another commit moved the store, blind
``apply`` and ``compare_and_swap``) run on a store with a SQLite journal that snapshots
every few versions. After every commit the live state is remembered; then every
version read back through ``store.at``, through a store reopened from the file, through
a fork, and through an in-memory journal given the same commits must be exactly that
state, signals included.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from theus_state import MemoryJournal, SqliteJournal, StateError, Store

PATHS = st.sampled_from(
    [
        "domain.a",
        "domain.a.p",
        "domain.a.q.r",
        "domain.a.sig_s",
        "domain.b",
        "domain.b.p",
        "domain.sig_t",
        "domain.sig_t.p",
        "domain.const_k",
        "global.g",
        "global.g.p",
    ]
)
SCALARS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from(["x", "", None, True, 2.5, "ü"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["p", "q", "sig_s", "n"]), inner, max_size=3)
    ),
    max_leaves=6,
)
OP = st.one_of(
    st.tuples(st.just("set"), PATHS, VALUES),
    st.tuples(st.just("delete"), PATHS, st.none()),
)
# one commit: how it is made, its operations, and whether another commit moves the
# store between the transaction's start and its commit (its writes are then replayed)
COMMIT = st.tuples(st.sampled_from(["tx", "tx", "apply", "cas"]), st.lists(OP, max_size=5))
COMMITS = st.lists(st.tuples(COMMIT, st.booleans()), min_size=1, max_size=12)


def observed(state: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    return state.version, state.to_dict(), dict(state.signals)


def commit(store: Store, how: str, ops: list[Any], move: bool, live: dict[int, Any]) -> None:
    if how != "tx":
        updates = {path: value for op, path, value in ops if op == "set"}
        try:
            if how == "apply":
                store.apply(updates, requester="apply")
            else:
                store.compare_and_swap(store.state.version, updates, requester="cas")
        except StateError:
            pass  # refused as a whole: nothing written
        return
    tx = store.transaction(requester="tx")
    for op, path, value in ops:
        try:
            if op == "set":
                tx.set(path, value)
            else:
                tx.delete(path)
        except StateError:
            pass  # refused write: the transaction is as it was
    if move:  # another commit on a path no operation touches
        store.compare_and_swap(store.state.version, {"global.other": store.state.version})
        live[store.state.version] = observed(store.state)
    tx.commit()


@settings(max_examples=120, deadline=None, database=None)
@given(commits=COMMITS, snapshot_every=st.integers(1, 4))
def test_every_version_reads_back_as_it_was(commits: list[Any], snapshot_every: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "app.db"
        context = {"domain": {"a": {"p": 1}, "const_k": 7}, "global": {"g": 1}}
        store = Store(context, journal=SqliteJournal(path, snapshot_every=snapshot_every))
        live = {0: observed(store.state)}
        for (how, ops), move in commits:
            commit(store, how, ops, move, live)
            live[store.state.version] = observed(store.state)
        kept = live
        for version, seen in kept.items():
            assert observed(store.at(version)) == seen, version
        last = observed(store.state)
        store.close()

        # the same commits on an in-memory journal: the same versions
        memory = Store(context, journal=MemoryJournal(keep_last=None))
        for (how, ops), move in commits:
            commit(memory, how, ops, move, {})
        assert observed(memory.state) == last
        for version, seen in kept.items():
            assert observed(memory.at(version)) == seen, version

        again = Store.open(SqliteJournal(path, snapshot_every=snapshot_every))
        try:
            assert observed(again.state) == last
            for version, seen in kept.items():
                assert observed(again.at(version)) == seen, version
                fork = again.fork(version)
                assert observed(fork.state) == seen, version
                fork.close()
            versions = [r.version for r in again.history()]
            assert versions == sorted(set(versions))
            assert versions[-1:] == ([last[0]] if last[0] else [])
        finally:
            again.close()
