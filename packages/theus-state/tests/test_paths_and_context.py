from __future__ import annotations

import dataclasses

import pytest

from theus_state import (
    InvalidContext,
    InvalidPath,
    PathNotFound,
    StateError,
    Store,
    Zone,
    parse_path,
)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty path"),
        ("domain..x", "empty segment at position 1"),
        ("domain.x.", "empty segment at position 2"),
        (".domain", "empty segment at position 0"),
        ("domain. x", "whitespace"),
        ("nope.x", "unknown layer 'nope'"),
        ("state", "unknown layer 'state'"),
    ],
)
def test_bad_string_paths_are_invalid(path: str, reason: str) -> None:
    with pytest.raises(InvalidPath) as info:
        parse_path(path)
    assert reason in str(info.value)
    assert info.value.path == path
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, StateError)


@pytest.mark.parametrize("path", [None, 3, b"domain.x", ("domain", "x"), ["domain"]])
def test_non_string_paths_are_invalid(path: object) -> None:
    with pytest.raises(InvalidPath, match="must be a string"):
        parse_path(path)


def test_bad_paths_leave_store_unchanged() -> None:
    store = Store({"domain": {"x": 1}})
    before = store.state
    for bad in ["", "domain..x", 7, "other.x"]:
        with pytest.raises(InvalidPath), store.transaction() as tx:
            tx.set(bad, 1)  # type: ignore[arg-type]
        with pytest.raises(InvalidPath):
            store.compare_and_swap(0, {"domain.x": 2, bad: 3})  # type: ignore[dict-item]
    assert store.state is before
    assert store.state.get("domain.x") == 1


@pytest.mark.parametrize(
    ("path", "zone"),
    [
        ("domain.x", Zone.DATA),
        ("domain.heavy_w", Zone.HEAVY),
        ("domain.models.heavy_enc.layer", Zone.HEAVY),
        ("domain.sig_done", Zone.SIGNAL),
        ("domain.cmd_stop", Zone.SIGNAL),
        ("global.meta_timings.x", Zone.META),
        ("global.const_rate", Zone.CONSTANT),
        ("domain.heavy_x.meta_y", Zone.HEAVY),  # outermost marked segment governs
        ("domain", Zone.DATA),
    ],
)
def test_zone_by_prefix_at_any_segment(path: str, zone: Zone) -> None:
    assert parse_path(path).zone is zone


def test_layer_aliases_are_canonical() -> None:
    assert parse_path("global_.x").text == "global.x"
    assert parse_path("global_ctx.x").keys == ("global", "x")
    assert parse_path("domain_ctx.x").text == "domain.x"


def test_context_from_mapping_with_aliases() -> None:
    store = Store({"domain": {"a": 1}, "global_ctx": {"rate": 0.5}})
    assert store.state.get("global.rate") == 0.5
    assert store.state.global_ctx.rate == 0.5
    assert store.state.global_["rate"] == 0.5


def test_context_from_dataclass() -> None:
    @dataclasses.dataclass
    class User:
        name: str
        tags: list[str]

    @dataclasses.dataclass
    class Domain:
        user: User
        count: int = 0

    @dataclasses.dataclass
    class Ctx:
        domain: Domain
        global_ctx: dict[str, int]

    ctx = Ctx(Domain(User("ann", ["a"])), {"rate": 3})
    store = Store(ctx)
    assert store.state.get("domain.user.name") == "ann"
    assert store.state.domain.user.tags == ["a"]
    assert store.state.get("global.rate") == 3
    ctx.domain.user.tags.append("leak")  # the source object is not aliased
    assert store.state.get("domain.user.tags") == ["a"]


def test_context_from_model_dump() -> None:
    class Model:
        def model_dump(self) -> dict[str, object]:
            return {"domain": {"items": [1, 2]}, "global": {"mode": "x"}}

    store = Store(Model())
    assert store.state.to_dict() == {"domain": {"items": [1, 2]}, "global": {"mode": "x"}}


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (42, "cannot build a context from int"),
        ("domain", "cannot build a context from str"),
        ([("domain", {})], "cannot build a context from list"),
        ({"domian": {}}, "unknown layer 'domian'"),
        ({"domain": 5}, "layer 'domain' must be a mapping"),
        ({"domain": {}, "domain_ctx": {}}, "given twice"),
    ],
)
def test_bad_contexts(context: object, message: str) -> None:
    with pytest.raises(InvalidContext, match=message) as info:
        Store(context)
    assert isinstance(info.value, TypeError)


def test_missing_path_raises_keyerror_subclass() -> None:
    store = Store({"domain": {"a": {"b": 1}}})
    with pytest.raises(PathNotFound) as info:
        store.state.get("domain.a.c")
    assert isinstance(info.value, KeyError)
    assert info.value.path == "domain.a.c"
    assert store.state.get("domain.a.c", None) is None
    assert store.state.get("domain.a.b.c", "d") == "d"  # through a scalar
    with store.transaction() as tx, pytest.raises(PathNotFound):
        tx.get("domain.zzz")
