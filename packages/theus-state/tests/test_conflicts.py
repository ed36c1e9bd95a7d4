"""Path-granular optimistic concurrency, CAS, the ConflictManager and the VIP ticket."""

from __future__ import annotations

import random
import threading
import time

import pytest

from theus_state import ConflictError, ConflictManager, RetryDecision, Store, hookimpl


def make() -> Store:
    return Store({"domain": {"user": {"name": "a", "age": 1}, "n": 0, "m": 0}})


def test_sibling_write_merges_after_concurrent_commit() -> None:
    store = make()
    tx = store.transaction()
    tx.set("domain.user.age", 2)  # stale: started at 0
    store.compare_and_swap(0, {"domain.user.name": "b"})
    assert tx.commit() == 2
    assert store.state.get("domain.user") == {"name": "b", "age": 2}


def test_parent_write_conflicts_with_child_write_both_ways() -> None:
    store = make()
    tx = store.transaction()
    tx.set("domain.user.age", 2)
    store.compare_and_swap(0, {"domain.user": {"name": "x"}})
    with pytest.raises(ConflictError) as info:
        tx.commit()
    err = info.value
    assert (err.path, err.expected, err.actual) == ("domain.user.age", 0, 1)
    assert (err.expected_version, err.actual_version) == (0, 1)
    assert store.state.get("domain.user") == {"name": "x"}
    assert tx.status == "rolled back"

    tx = store.transaction()
    tx.set("domain.user", {"name": "y"})
    store.compare_and_swap(1, {"domain.user.name": "z"})
    with pytest.raises(ConflictError, match="domain.user"):
        tx.commit()
    assert store.state.get("domain.user.name") == "z"


def test_read_of_changed_path_fails_commit() -> None:
    store = make()
    tx = store.transaction()
    n = tx.get("domain.n")
    tx.set("domain.m", n + 1)  # writes elsewhere, but depends on domain.n
    store.compare_and_swap(0, {"domain.n": 10})
    with pytest.raises(ConflictError) as info:
        tx.commit()
    assert info.value.path == "domain.n"
    assert store.state.get("domain.m") == 0
    # reading a parent conflicts with a change below it; an absent path read counts too
    tx = store.transaction()
    tx.get("domain.user")
    tx.get("domain.ghost", None)
    tx.set("domain.m", 1)
    store.compare_and_swap(1, {"domain.ghost": 1})
    with pytest.raises(ConflictError, match="domain.ghost"):
        tx.commit()


def test_unrelated_read_does_not_conflict() -> None:
    store = make()
    tx = store.transaction()
    tx.get("domain.user.name")
    tx.set("domain.m", 1)
    store.compare_and_swap(0, {"domain.user.age": 5})
    tx.commit()
    assert store.state.get("domain.m") == 1


def test_cas_default_is_path_granular_strict_rejects_stale() -> None:
    store = make()
    v1 = store.compare_and_swap(0, {"domain.n": 1})
    assert v1 == 1
    assert store.compare_and_swap(0, {"domain.m": 1}) == 2  # stale but disjoint
    with pytest.raises(ConflictError) as info:
        store.compare_and_swap(0, {"domain.n": 2})
    assert (info.value.path, info.value.expected, info.value.actual) == ("domain.n", 0, 2)
    with pytest.raises(ConflictError):
        store.compare_and_swap(1, {"domain.user.age": 3}, strict=True)
    assert store.compare_and_swap(2, {"domain.user.age": 3}, strict=True) == 3
    with pytest.raises(ConflictError):
        store.compare_and_swap(99, {"domain.n": 0})
    assert store.state.get("domain.n") == 1


def test_cas_bad_input_leaves_state_unchanged() -> None:
    store = make()
    snap = store.state
    with pytest.raises(Exception, match="domain.n"):
        store.compare_and_swap(0, {"domain.m": 5, "domain.n.x": 1})
    assert store.state is snap


def test_backoff_formula_and_success_reset() -> None:
    cm = ConflictManager(max_retries=5, base_backoff=0.002, rng=random.Random(1))
    waits = [cm.report_conflict("k").wait_s for _ in range(4)]
    for n, w in enumerate(waits, start=1):
        nominal = 0.002 * 2 ** (n - 1)
        assert nominal * 0.8 <= w <= nominal * 1.2
    assert len(set(waits)) == 4
    assert cm.consecutive("k") == 4
    assert cm.vip is None
    cm.report_success("k")
    assert cm.consecutive("k") == 0
    d = cm.report_conflict("k")
    assert isinstance(d, RetryDecision) and d.should_retry and not d.vip


def test_vip_ticket_after_max_retries() -> None:
    cm = ConflictManager(max_retries=3, base_backoff=0.001)
    cm.report_conflict("a")
    cm.report_conflict("a")
    d = cm.report_conflict("a")
    assert d.vip and d.wait_s == 0.0 and cm.vip == "a"
    for _ in range(5):  # someone else starving cannot take a held ticket
        assert not cm.report_conflict("b").vip
    assert cm.vip == "a"
    t0 = time.monotonic()
    waited: list[float] = []
    th = threading.Thread(target=lambda: waited.append(cm.wait_turn("b")))
    th.start()
    time.sleep(0.05)
    cm.report_success("a")  # releases the ticket and wakes b
    th.join()
    assert 0.03 < waited[0] < 0.9 and time.monotonic() - t0 < 0.9
    assert cm.vip is None
    assert cm.wait_turn("a") == 0.0


def test_waiting_on_a_vanished_vip_is_bounded() -> None:
    cm = ConflictManager(max_retries=1, vip_wait=0.1, vip_ttl=0.3)
    cm.report_conflict("ghost")  # takes the ticket and never succeeds
    assert cm.vip == "ghost"
    assert 0.08 <= cm.wait_turn("x") < 0.3  # bounded by vip_wait
    time.sleep(0.3)
    assert cm.vip is None  # the ticket lapsed
    assert cm.wait_turn("x") < 0.01
    assert cm.report_conflict("x").vip  # a starving requester can take it now


def test_conflict_manager_rejects_bad_config() -> None:
    with pytest.raises(ValueError):
        ConflictManager(max_retries=0)
    with pytest.raises(ValueError):
        ConflictManager(base_backoff=-1)


def test_run_with_retry_no_lost_update_4x2000() -> None:
    store = Store({"domain": {"counter": 0}})

    def incr(tx):  # type: ignore[no-untyped-def]
        tx.set("domain.counter", tx.get("domain.counter") + 1)

    def worker(i: int) -> None:
        for _ in range(2000):
            store.run_with_retry(incr, key=f"w{i}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.state.get("domain.counter") == 8000
    assert store.state.version == 8000  # exactly one version bump per commit


class ConflictCounter:
    def __init__(self) -> None:
        self.conflicts: list[object] = []
        self.commits = 0
        self.lock = threading.Lock()

    @hookimpl
    def theus_state_conflict(self, store, error, requester):  # type: ignore[no-untyped-def]
        with self.lock:
            self.conflicts.append(requester)

    @hookimpl
    def theus_state_commit(self, store, version, paths, requester):  # type: ignore[no-untyped-def]
        with self.lock:
            self.commits += 1


def test_disjoint_key_writers_never_conflict() -> None:
    counter = ConflictCounter()
    store = Store({"domain": {f"k{i}": 0 for i in range(4)}}, plugins=[counter])

    def worker(i: int) -> None:
        for _ in range(1000):
            store.run_with_retry(
                lambda tx: tx.set(f"domain.k{i}", tx.get(f"domain.k{i}") + 1), key=i
            )

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.conflicts == []
    assert counter.commits == 4000 == store.state.version
    assert [store.state.get(f"domain.k{i}") for i in range(4)] == [1000] * 4


def test_run_with_retry_propagates_other_errors_and_returns_value() -> None:
    store = make()
    assert store.run_with_retry(lambda tx: tx.get("domain.n") + 41, key="r") == 41
    with pytest.raises(KeyError):
        store.run_with_retry(lambda tx: tx.get("domain.none"), key="r")

    def failing(tx):  # type: ignore[no-untyped-def]
        tx.set("domain.n", 5)
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        store.run_with_retry(failing, key="r")
    assert store.state.get("domain.n") == 0


@pytest.mark.slow
def test_vip_completes_while_three_threads_hammer_the_same_key() -> None:
    counter = ConflictCounter()
    cm = ConflictManager(max_retries=5, base_backoff=0.0005, vip_wait=2.0, vip_ttl=10.0)
    store = Store({"domain": {"c": 0}}, conflict_manager=cm, plugins=[counter])
    stop = threading.Event()
    vip_seen: list[object] = []
    max_gate_wait = [0.0]

    def slow_incr(tx):  # type: ignore[no-untyped-def]
        v = tx.get("domain.c")
        if cm.vip == "victim":
            vip_seen.append(cm.vip)
        else:  # wait for a hammer to commit in between: a conflict every time, however
            deadline = time.monotonic() + 1.0  # slow the machine
            while store.state.version == tx.version and time.monotonic() < deadline:
                time.sleep(0.0005)
        tx.set("domain.c", v + 1)

    def hammer(i: int) -> None:
        while not stop.is_set():
            t0 = time.monotonic()
            store.run_with_retry(lambda tx: tx.set("domain.c", tx.get("domain.c") + 1), key=f"h{i}")
            max_gate_wait[0] = max(max_gate_wait[0], time.monotonic() - t0)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.02)
    done = threading.Event()

    def victim() -> None:
        store.run_with_retry(slow_incr, key="victim")
        done.set()

    vt = threading.Thread(target=victim)
    vt.start()
    assert done.wait(10), "the VIP requester starved"
    stop.set()
    for t in [*threads, vt]:
        t.join(5)
    victim_conflicts = counter.conflicts.count("victim")
    assert victim_conflicts >= 5  # it really was starving...
    assert vip_seen  # ...received the ticket...
    assert cm.vip is None  # ...and released it on success
    assert max_gate_wait[0] < 2.0 + 1.0  # nobody waited beyond vip_wait (+ slack)
    assert store.state.get("domain.c") == store.state.version  # no lost update


def test_commit_waits_for_a_foreign_vip_unless_told_not_to() -> None:
    cm = ConflictManager(max_retries=1, vip_wait=0.2, vip_ttl=5.0)
    store = Store({"domain": {"n": 0}}, conflict_manager=cm)
    cm.report_conflict("vip")  # someone else holds the ticket
    t0 = time.monotonic()
    with store.transaction(requester="other") as tx:
        tx.set("domain.n", 1)
    assert time.monotonic() - t0 >= 0.15  # bounded wait at commit
    tx = store.transaction(requester="other")
    tx.set("domain.n", 2)
    t0 = time.monotonic()
    tx.commit(wait=False)
    assert time.monotonic() - t0 < 0.1
    with store.transaction(requester="vip") as tx:  # the VIP never waits and releases
        tx.set("domain.n", 3)
    assert cm.vip is None
