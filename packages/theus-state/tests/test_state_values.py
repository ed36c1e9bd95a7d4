"""Snapshots are immutable and nothing mutated in place reaches committed state."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from theus_state import FrozenList, FrozenMap, InvalidPath, InvalidValue, Store


class Box:
    """A mutable object of a type theus-state does not know."""

    def __init__(self, items: list[int]) -> None:
        self.items = items


def test_snapshot_values_cannot_be_mutated_in_place() -> None:
    store = Store({"domain": {"user": {"name": "a"}, "items": [1, 2, {"x": 1}]}})
    user = store.state.get("domain.user")
    items = store.state.get("domain.items")
    with pytest.raises(TypeError):
        user["name"] = "b"
    with pytest.raises(TypeError):
        user.name = "b"
    for mutate in (
        lambda: items.append(3),
        lambda: items.extend([3]),
        lambda: items.__setitem__(0, 9),
        lambda: items.__delitem__(0),
        lambda: items.sort(),
        lambda: items.pop(),
        lambda: items.clear(),
    ):
        with pytest.raises(TypeError):
            mutate()
    with pytest.raises(TypeError):
        items[2]["x"] = 2
    assert store.state.to_dict()["domain"] == {"user": {"name": "a"}, "items": [1, 2, {"x": 1}]}


def test_values_written_are_not_aliased() -> None:
    source = {"domain": {"cfg": {"a": [1]}}}
    store = Store(source)
    source["domain"]["cfg"]["a"].append(2)  # the mapping the store was built from
    value = {"list": [1, 2]}
    with store.transaction() as tx:
        tx.set("domain.v", value)
    value["list"].append(3)  # a value after it was passed to tx.set
    assert store.state.get("domain.cfg.a") == [1]
    assert store.state.get("domain.v") == {"list": [1, 2]}


def test_unknown_objects_are_copied_on_write_and_on_read() -> None:
    box = Box([1])
    store = Store({"domain": {"box": box}})
    box.items.append(2)
    got = store.state.get("domain.box")
    assert got.items == [1]
    got.items.append(99)  # mutating what we read does not reach the state
    assert store.state.get("domain.box").items == [1]
    assert store.state.domain.box.items == [1]


def test_uncopyable_value_is_rejected_with_path() -> None:
    class NoCopy:
        def __deepcopy__(self, memo: object) -> object:
            raise RuntimeError("no copies")

    store = Store({"domain": {}})
    with pytest.raises(InvalidValue) as info, store.transaction() as tx:
        tx.set("domain.bad", NoCopy())
    assert info.value.path == "domain.bad"
    assert "NoCopy" in str(info.value)
    assert store.state.version == 0


def test_frozen_values_behave_like_plain_ones() -> None:
    store = Store({"domain": {"m": {"a": 1, "b": [1, 2]}, "t": (1, [2])}})
    m = store.state.get("domain.m")
    assert isinstance(m, FrozenMap)
    assert m == {"a": 1, "b": [1, 2]}
    assert {"a": 1, "b": [1, 2]} == m
    assert m != {"a": 1}
    assert isinstance(m["b"], list) and isinstance(m["b"], FrozenList)
    assert json.loads(json.dumps(m["b"])) == [1, 2]
    assert dict(m) == {"a": 1, "b": [1, 2]}
    assert m.to_dict() == {"a": 1, "b": [1, 2]} and type(m.to_dict()["b"]) is list
    assert store.state.get("domain.t") == (1, [2])
    assert pickle.loads(pickle.dumps(m)) == m
    assert copy.deepcopy(m) is m
    assert m.set("c", 3) == {"a": 1, "b": [1, 2], "c": 3} and "c" not in m
    with pytest.raises(AttributeError):
        _ = m.missing
    with pytest.raises(AttributeError):
        _ = m._secret


def test_to_dict_has_data_and_constant_fields_only() -> None:
    store = Store(
        {
            "domain": {
                "x": 1,
                "const_k": 2,
                "meta_t": 3,
                "sig_s": 4,
                "heavy_h": bytearray(3),
                "nested": {"meta_n": 1, "y": 2},
            },
            "global": {"g": 1},
            "local": {"scratch": 1},
        }
    )
    assert store.state.to_dict() == {
        "domain": {"x": 1, "const_k": 2, "nested": {"y": 2}},
        "global": {"g": 1},
    }
    assert store.state.get("domain.meta_t") == 3
    assert store.state.get("domain.nested.meta_n") == 1


def test_a_mapping_read_shows_its_heavy_fields_by_reference() -> None:
    """HEAVY fields nested in a DATA mapping live in the HEAVY table, yet reading the
    mapping (state.get, tx.get, the layer view) shows them in place, never copied."""
    buf = bytearray(4)
    other = bytearray(2)
    store = Store({"domain": {"model": {"name": "m", "heavy_w": buf, "inner": {"k": 1}}}})
    state = store.state
    model = state.get("domain.model")
    assert model["heavy_w"] is buf and model["name"] == "m"
    assert state.domain.model["heavy_w"] is buf
    assert "heavy_w" not in state.get("domain.model.inner")  # only what lies below
    assert state.to_dict()["domain"]["model"] == {"name": "m", "inner": {"k": 1}}
    with store.transaction() as tx:
        assert tx.get("domain.model")["heavy_w"] is buf
        tx.set("domain.model.inner.heavy_x", other)  # HEAVY: written through at once
        assert tx.get("domain.model")["inner"]["heavy_x"] is other
    assert store.state.get("domain.model.inner")["heavy_x"] is other
    assert store.state.get("domain.model.inner.k") == 1


def test_in_tells_whether_a_path_holds_something() -> None:
    store = Store({"domain": {"x": 0, "none": None, "user": {"name": "a"}, "heavy_h": b"1"}})
    state = store.state
    for path in ("domain.x", "domain.none", "domain.user", "domain.user.name", "domain"):
        assert path in state, path
    assert "domain.heavy_h" in state  # HEAVY: the object itself
    for path in ("domain.y", "domain.user.age", "domain.x.deeper", "global.g"):
        assert path not in state, path  # never PathNotFound
    with pytest.raises(InvalidPath):
        "domain..x" in state  # noqa: B015 - a bad path is an error, not "absent"
