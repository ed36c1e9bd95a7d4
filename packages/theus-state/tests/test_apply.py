"""store.apply: blind, atomic writes (last writer wins), fast path and general path agree."""

from __future__ import annotations

import pytest

from theus_state import ConflictError, Store, ZoneViolation


def test_apply_is_blind_and_atomic() -> None:
    store = Store({"domain": {"a": 0, "b": 0, "const_c": 1}})
    tx = store.transaction()
    tx.set("domain.a", tx.get("domain.a") + 1)
    assert store.apply({"domain.a": 10, "domain.b": 20}, requester="w") == 1
    with pytest.raises(ConflictError):  # the transaction read domain.a, which moved
        tx.commit()
    assert store.apply({"domain.a": 11}) == 2  # no conflict check for blind writes
    with pytest.raises(ZoneViolation):
        store.apply({"domain.b": 5, "domain.const_c": 2})
    assert store.state.version == 2 and store.state.get("domain.b") == 20  # all or nothing
    assert [r.requester for r in store.history()] == ["w", None]


def test_fast_path_and_general_path_give_the_same_states() -> None:
    cases = [
        {"domain.a": 1},  # scalar over scalar: fast path
        {"domain.m": 5},  # scalar over a mapping: constants checked (general path)
        {"domain.new.deep": 1},  # deeper path: general path
        {"domain.sig_x": 1},  # a signal: general path
        {"domain.a": 2},  # previous commit left a signal to clear: general path
        {"domain.a": 3, "global.g": "x"},
    ]
    store = Store({"domain": {"a": 0, "m": {"k": 1}}, "global": {"g": 0}})
    replay = Store({"domain": {"a": 0, "m": {"k": 1}}, "global": {"g": 0}})
    for updates in cases:
        v1 = store.apply(updates)
        v2 = replay.compare_and_swap(replay.state.version, updates, strict=True)
        assert v1 == v2
        assert store.state.to_dict() == replay.state.to_dict()
        assert dict(store.state.signals) == dict(replay.state.signals)
    assert store.state.get("domain.sig_x", None) is None
    assert store.at(4).get("domain.sig_x") == 1
    assert store.apply({}) == store.state.version  # nothing to write: no version bump
