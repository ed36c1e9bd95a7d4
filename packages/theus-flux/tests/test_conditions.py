from __future__ import annotations

import dataclasses
import json
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest

from theus_flux import (
    Condition,
    FluxConditionError,
    FluxError,
    FluxRunner,
    FluxStepError,
    InvalidWorkflow,
    Workflow,
    compile_condition,
)

CTX: dict[str, Any] = {
    "domain": {
        "a": 2,
        "items": [1, 2, 3],
        "items_left": 3,
        "done": False,
        "user": {"name": "ann", "age": 30},
        "flag": True,
        "x": "left",
        "y": "right",
        "none": None,
        "global": "key named global",
        "_id": 7,
    },
    "global": {"mode": "fast", "rate": 0.5},
    "signal": {"domain.cmd_go": True},
    "meta": {"count": 4},
}

VALID = [
    ("domain.a > 1", True),
    ("domain['a'] == 2", True),
    ("domain.user.name == 'ann'", True),
    ("domain['user']['age'] >= 30", True),
    ("domain.items_left > 0 and not domain.done", True),
    ("1 < domain.a < 3", True),
    ("1 < domain.a < 2", False),
    ("domain.a in [1, 2, 3]", True),
    ("domain.a not in (4, 5)", True),
    ("'ann' in domain.user.name", True),
    ("len(domain.items) == 3", True),
    ("sum(domain.items) / len(domain.items)", 2.0),
    ("max(domain.items)", 3),
    ("min(1, domain.a)", 1),
    ("max(domain.items) + min(domain.items)", 4),
    ("round(2.567, 2)", 2.57),
    ("round(2.5)", 2),
    ("abs(-3)", 3),
    ("int('7') + float('0.5')", 7.5),
    ("int('ff', 16)", 255),
    ("str(3) + 'x'", "3x"),
    ("bool(0)", False),
    ("sum([1, 2], 10)", 13),
    ("domain.get('missing', 5)", 5),
    ("domain.get('a')", 2),
    ("domain.get('zz')", None),
    ("domain.user.get('name')", "ann"),
    ("global.mode == 'fast'", True),
    ("global['rate'] * 2", 1.0),
    ("global_.mode", "fast"),
    ("global_ctx.mode", "fast"),
    ("signal.get('domain.cmd_go', False)", True),
    ("signal['domain.cmd_go'] is True", True),
    ("meta.count ** 2", 16),
    ("domain.x if domain.flag else domain.y", "left"),
    ("domain.x if domain.done else domain.y", "right"),
    ("domain.items[0]", 1),
    ("domain.items[-1]", 3),
    ("domain.items[1:]", [2, 3]),
    ("domain.items[::2]", [1, 3]),
    ("domain.none is None", True),
    ("domain.a is not None", True),
    ("True", True),
    ("None", None),
    ("'abc'", "abc"),
    ("domain.a // 2 + domain.a % 2", 1),
    ("-domain.a + +1", -1),
    ("domain.done or domain.a", 2),
    ("domain.flag and domain.a", 2),
    ("[domain.a, 1]", [2, 1]),
    ("(domain.a,)", (2,)),
    ("domain.global", "key named global"),
    ("domain['_id']", 7),
    ("domain.a > 1 and\n  domain.a < 3", True),
    ("  domain.a  ", 2),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_conditions_evaluate(text: str, expected: Any) -> None:
    cond = compile_condition(text)
    result = cond.evaluate(CTX)
    assert result == expected
    assert type(result) is type(expected)
    assert cond(CTX) == expected
    assert cond.fn(CTX) == expected


@dataclasses.dataclass
class User:
    name: str
    age: int
    _secret: str = "hidden"

    @property
    def adult(self) -> bool:
        return self.age >= 18


class Row:
    """Supports item access but is not a Mapping."""

    def __init__(self, **data: Any) -> None:
        self._data = data
        self.kind = "row"

    def __getitem__(self, key: str) -> Any:
        return self._data[key]


def test_objects_attributes_and_item_access() -> None:
    ctx = SimpleNamespace(
        domain=SimpleNamespace(user=User("bob", 20), row=Row(k=1), items=[1, 2], key="_secret"),
        global_=SimpleNamespace(mode="slow"),
        signal={},
        meta=MappingProxyType({"n": 1}),
    )
    assert compile_condition("domain.user.name == 'bob' and domain.user.adult")(ctx) is True
    assert compile_condition("domain['user']['age']")(ctx) == 20
    assert compile_condition("global.mode")(ctx) == "slow"
    assert compile_condition("global_ctx.mode")(ctx) == "slow"  # falls back to global_
    assert compile_condition("meta.n + meta['n']")(ctx) == 2
    assert compile_condition("domain.row.k")(ctx) == 1  # item access first ...
    assert compile_condition("domain.row.kind")(ctx) == "row"  # ... then the attribute
    assert compile_condition("domain.user.get('name')")(ctx) == "bob"
    assert compile_condition("domain.user.get('nope', 3)")(ctx) == 3
    with pytest.raises(FluxConditionError, match="private field '_secret' is not readable"):
        compile_condition("domain.user[domain.key]")(ctx)
    with pytest.raises(FluxConditionError, match="private field"):
        compile_condition("domain.user.get('_secret', 'no')")(ctx)
    with pytest.raises(FluxConditionError, match="missing"):
        compile_condition("domain.items.count")(ctx)  # no attributes of plain values
    # a mapping is read by key only: 'items' is a key, never dict.items
    with pytest.raises(FluxConditionError, match=r"domain\.items is missing"):
        compile_condition("domain.items")({"domain": {}})
    # a Mapping context (not a dict) and a global_ key
    proxy = MappingProxyType({"domain": {"a": 1}, "global_": {"m": 2}})
    assert compile_condition("domain.a + global.m")(proxy) == 3


HOSTILE = [
    ("__import__('os').system('x')", "__import__"),
    ("domain.__class__", ".__class__"),
    ("domain.__class__.__bases__[0].__subclasses__()", ".__class__"),
    ("domain._private", "._private"),
    ("domain['__class__']", "'__class__'"),
    ("domain['__globals__'] == 1", "'__globals__'"),
    ("lambda: 1", "lambda: 1"),
    ("(lambda: 0)()", "lambda: 0"),
    ("[x for x in domain.items]", "[x for x in domain.items]"),
    ("{x for x in domain.items}", "{x for x in domain.items}"),
    ("{k: v for k, v in domain.items}", "{k: v for k, v in domain.items}"),
    ("sum(x for x in domain.items)", "(x for x in domain.items)"),
    ("(y := 1)", "y := 1"),
    ("open('/etc/passwd')", "open"),
    ("eval('1')", "eval"),
    ("exec('1')", "exec"),
    ("compile('1', 'f', 'eval')", "compile"),
    ("getattr(domain, 'x')", "getattr"),
    ("type(domain)", "type"),
    ("vars()", "vars"),
    ("domain.items.pop()", ".pop"),
    ("domain.name.format(domain)", ".format"),
    ("'{0.__class__}'.format(domain)", ".format"),
    ("f'{domain}'", "f'{domain}'"),
    ("{'a': 1}", "{'a': 1}"),
    ("{1, 2}", "{1, 2}"),
    ("os", "os"),
    ("__builtins__", "__builtins__"),
    ("_globl", "_globl"),
    ("len", "len"),
    ("len(*domain.items)", "*domain.items"),
    ("max(domain.items, key=abs)", "key=abs"),
    ("domain.get('a', 1, 2)", "domain.get('a', 1, 2)"),
    ("len()", "len()"),
    ("b'bytes'", "b'bytes'"),
    ("1j", "1j"),
    ("...", "..."),
    ("~domain.a", "~domain.a"),
    ("domain.a << 2", "domain.a << 2"),
    ("domain.a | 1", "domain.a | 1"),
    ("domain.a @ domain.b", "domain.a @ domain.b"),
    ("await domain.x", "await domain.x"),
    ("(yield 1)", "yield 1"),
    ("domain.a = 1", None),
    ("import os", None),
    ("1 if True", None),
    ("domain.x\x00", None),
    ("(" * 300 + "1" + ")" * 300, None),
    ("-" * 150 + "1", None),
    ("", None),
    ("domain.a" + " + 1" * 5000, None),
]


@pytest.mark.parametrize(("text", "token"), HOSTILE)
def test_hostile_conditions_are_rejected_at_load(text: str, token: str | None) -> None:
    with pytest.raises(InvalidWorkflow) as info:
        compile_condition(text, source="wf.yaml", line=12)
    err = info.value
    assert err.source == "wf.yaml" and err.line == 12
    assert str(err).startswith("wf.yaml:12: ")
    if token is not None:
        assert err.token == token, str(err)


@pytest.mark.parametrize(("text", "token"), [h for h in HOSTILE if "\x00" not in h[0]][:30])
def test_hostile_conditions_in_yaml_name_file_and_line(text: str, token: str | None) -> None:
    yaml_text = (
        "steps:\n  - a\n  - flux: if\n    condition: " + json.dumps(text) + "\n    then: [b]\n"
    )
    with pytest.raises(InvalidWorkflow) as info:
        Workflow.from_yaml(yaml_text)
    assert info.value.line == 4
    assert info.value.token == token


def test_runtime_missing_names_and_fields_name_step_and_condition() -> None:
    wf = Workflow.from_yaml(
        "steps:\n"
        "  - a\n"
        "  - flux: while\n"
        "    condition: domain.n > 0\n"
        "    do:\n"
        "      - flux: if\n"
        "        condition: domain.user.name == 'x'\n"
        "        then: [b]\n"
    )
    runner = FluxRunner(wf, lambda name: None)
    with pytest.raises(FluxConditionError) as info:
        runner.run({"domain": {"n": 1, "user": {}}})
    err = info.value
    assert isinstance(err, FluxStepError) and isinstance(err, FluxError)
    assert err.step_path == "steps[1].do[0]"
    assert err.condition == "domain.user.name == 'x'"
    assert err.where == "<string>:7"
    assert "steps[1].do[0]" in str(err) and "domain.user.name == 'x'" in str(err)
    assert "domain.user.name is missing" in str(err)
    assert isinstance(err.__cause__, LookupError)

    with pytest.raises(FluxConditionError) as info:
        runner.run({"global": {}})
    assert info.value.step_path == "steps[1]"
    assert "name 'domain' is not in the context" in str(info.value)

    with pytest.raises(FluxConditionError, match="TypeError") as info:
        runner.run({"domain": {"n": "three"}})
    assert isinstance(info.value.__cause__, TypeError)


def test_missing_global_and_object_names() -> None:
    with pytest.raises(FluxConditionError, match="name 'global' is not in the context"):
        compile_condition("global.x")({"domain": {}})
    with pytest.raises(FluxConditionError, match="name 'signal' is not in the context"):
        compile_condition("signal.x")(SimpleNamespace(domain={}))
    with pytest.raises(FluxConditionError, match="no field 'name' in NoneType"):
        compile_condition("domain.user.name")({"domain": {"user": None}})
    with pytest.raises(FluxConditionError, match=r"domain\.items\[5\] is missing"):
        compile_condition("domain.items[5]")({"domain": {"items": []}})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("'a' * 10000000", "repetition"),
        ("[0] * 2000000", "repetition"),
        ("10000000 * 'a'", "repetition"),
        ("10 ** 1000000", "power"),
        ("'%s' % domain", "string formatting"),
        ("1 / 0", "ZeroDivisionError"),
        ("int('x')", "ValueError"),
    ],
)
def test_runtime_guards_and_errors(text: str, fragment: str) -> None:
    cond = compile_condition(text)
    with pytest.raises(FluxConditionError, match=fragment):
        cond({"domain": {}})


def test_condition_object() -> None:
    a = compile_condition("domain.a > 1", source="f.yaml", line=3)
    b = compile_condition("domain.a > 1")
    assert a == b and hash(a) == hash(b) and a != compile_condition("domain.a > 2")
    assert repr(a) == "Condition('domain.a > 1')"
    assert a.where == "f.yaml:3" and a.text == "domain.a > 1"
    assert isinstance(a, Condition)
    with pytest.raises(InvalidWorkflow, match="must be a string"):
        compile_condition(5)  # type: ignore[arg-type]
    err = a.error(KeyError("x"), "steps[0]")
    assert isinstance(err, FluxConditionError) and err.step_path == "steps[0]"
    import pickle

    clone = pickle.loads(pickle.dumps(err))
    assert (clone.step_path, clone.condition, clone.where) == ("steps[0]", a.text, "f.yaml:3")


def test_global_keyword_inside_strings_and_attributes() -> None:
    ctx = {"domain": {"global": 1, "s": "global"}, "global": {"global": 2}}
    assert compile_condition("domain.s == 'global'")(ctx) is True
    assert compile_condition("global.global + domain.global")(ctx) == 3
    assert compile_condition("global['global']")(ctx) == 2


def test_mapping_types_are_remembered_but_a_later_registration_still_counts() -> None:
    # field access checks "is it a Mapping" per type once; a class registered as a
    # Mapping after a first (negative) answer must be read as a mapping from then on
    from collections.abc import Mapping

    from theus_flux import _cond_runtime

    class Box:
        def __init__(self, **data: Any) -> None:
            self.data = data
            self.n = "attribute"

        def __getitem__(self, key: str) -> Any:
            return self.data[key]

        def __iter__(self) -> Any:
            return iter(self.data)

        def __len__(self) -> int:
            return len(self.data)

        def get(self, key: str, default: Any = None) -> Any:
            return self.data.get(key, default)

    cond = compile_condition("domain.n")
    assert cond({"domain": Box(n="item")}) == "item"  # an object with __getitem__: item first
    # not a mapping: .get reads the field, found as an attribute
    assert compile_condition("domain.get('n', 0)")({"domain": Box(m=1)}) == "attribute"
    Mapping.register(Box)
    assert compile_condition("domain.get('n', 0)")({"domain": Box(m=1)}) == 0  # now a mapping
    assert Box in _cond_runtime._MAPPING_TYPES
    for i in range(_cond_runtime._MAPPING_TYPES_MAX + 5):  # bounded: cleared when full
        kind = type(f"M{i}", (dict,), {})
        assert cond({"domain": kind(n=i)}) == i
    assert len(_cond_runtime._MAPPING_TYPES) <= _cond_runtime._MAPPING_TYPES_MAX
