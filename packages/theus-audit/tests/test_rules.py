"""Every rule kind, on numbers, strings, dates and bad values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from theus_audit import AuditLevel, Auditor, AuditRecipe, RecipeError, RuleRegistry, hookimpl


def check(rule: dict[str, Any], value: Any, *, present: bool = True) -> tuple[str, tuple[str, ...]]:
    a = Auditor({"level": "C", "processes": {"p": {"inputs": [{"field": "f", **rule}]}}})
    d = a.check_inputs("p", {"f": value} if present else {})
    return d.action, d.reasons


def passes(rule: dict[str, Any], value: Any) -> bool:
    return check(rule, value)[0] == "allow"


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        ({"min": 0}, [0, 1, 0.5, True], [-1, -0.1]),
        ({"max": 10}, [10, -3, 9.99], [11, 10.01]),
        ({"min": 0, "max": 10}, [0, 5, 10], [-1, 11]),
        ({"min": "b", "max": "d"}, ["b", "c", "cz", "d"], ["a", "da", "e"]),
        (
            {"min": dt.date(2024, 1, 1), "max": dt.date(2024, 12, 31)},
            [dt.date(2024, 1, 1), dt.date(2024, 6, 1)],
            [dt.date(2023, 12, 31), dt.date(2025, 1, 1)],
        ),
        ({"eq": "EUR"}, ["EUR"], ["eur", "USD", "", None, 1]),
        ({"eq": 3}, [3, 3.0], [4, "3"]),
        ({"eq": None}, [None], [0, ""]),
        ({"neq": "admin"}, ["bob", "", None], ["admin"]),
        ({"min_len": 2}, ["ab", [1, 2], {"a": 1, "b": 2}], ["a", [], ""]),
        ({"max_len": 3}, ["abc", (), ""], ["abcd", [1, 2, 3, 4]]),
        ({"regex": r"^[A-Z]{3}$"}, ["EUR", "USD"], ["eur", "EURO", "E1R"]),
        ({"regex": r"\d"}, ["a1b", "9"], ["abc", ""]),  # search semantics: unanchored
        ({"in": ["EUR", "USD"]}, ["EUR", "USD"], ["GBP", "eur", None]),
        ({"in": [1, 2]}, [1, 2, 2.0], [3, "1"]),
        ({"in": [[1], [2]]}, [[1], [2]], [[3], 1]),  # unhashable choices
        ({"not_in": ["root", "admin"]}, ["bob", None, ["root"]], ["root", "admin"]),
    ],
)
def test_kind_good_and_bad_values(rule: dict[str, Any], good: list[Any], bad: list[Any]) -> None:
    for value in good:
        assert passes(rule, value), (rule, value)
    for value in bad:
        assert not passes(rule, value), (rule, value)


@pytest.mark.parametrize(
    ("rule", "value", "reason"),
    [
        ({"min": 0}, -5, "p:inputs:f:min: -5 < min 0"),
        ({"max": 1.5}, 2, "p:inputs:f:max: 2 > max 1.5"),
        ({"eq": "EUR"}, "USD", "p:inputs:f:eq: 'USD' != eq 'EUR'"),
        ({"neq": "x"}, "x", "p:inputs:f:neq: 'x' == neq 'x'"),
        ({"min_len": 3}, "ab", "p:inputs:f:min_len: length 2 < min_len 3"),
        ({"max_len": 1}, [1, 2], "p:inputs:f:max_len: length 2 > max_len 1"),
        ({"regex": "^a"}, "ba", "p:inputs:f:regex: 'ba' does not match regex '^a'"),
        ({"regex": "^a"}, 12, "p:inputs:f:regex: 12 (int) is not a string for regex '^a'"),
        ({"in": ["a", "b"]}, "c", "p:inputs:f:in: 'c' not in ['a', 'b']"),
        ({"not_in": ["a"]}, "a", "p:inputs:f:not_in: 'a' in forbidden ['a']"),
        (
            {"min": 0},
            "abc",
            "p:inputs:f:min: 'abc' (str) cannot be compared with min 0 (int)",
        ),
        ({"min_len": 1}, 5, "p:inputs:f:min_len: 5 (int) has no length"),
        ({"min": 0, "message": "must be positive"}, -1, "p:inputs:f:min: must be positive"),
    ],
)
def test_failure_reasons_name_key_rule_and_value(
    rule: dict[str, Any], value: Any, reason: str
) -> None:
    assert check(rule, value) == ("warn", (reason,))


def test_incomparable_values_fail_instead_of_raising() -> None:
    for value in (None, "x", [1], object(), dt.datetime(2024, 1, 1, 12)):
        action, reasons = check({"min": dt.date(2024, 1, 1)}, value)
        assert action == "warn"
        assert "cannot be compared" in reasons[0]


def test_missing_field_fails_unless_not_required() -> None:
    assert check({"min": 0}, None, present=False) == (
        "warn",
        ("p:inputs:f:min: field 'f' is missing",),
    )
    assert check({"min": 0, "required": False}, None, present=False) == ("allow", ())
    assert check({"min": 0, "required": False}, -1) == ("warn", ("p:inputs:f:min: -1 < min 0",))


def test_dotted_field_reads_exact_key_then_nested_mappings_and_attributes() -> None:
    class User:
        name = "al"

    a = Auditor(
        {"level": "C", "processes": {"p": {"inputs": [{"field": "user.name", "min_len": 3}]}}}
    )
    assert a.check_inputs("p", {"user.name": "alice"}).action == "allow"
    assert a.check_inputs("p", {"user": {"name": "alice"}}).action == "allow"
    assert a.check_inputs("p", {"user": {"name": "al"}}).action == "warn"
    assert a.check_inputs("p", {"user": User()}).action == "warn"
    d = a.check_inputs("p", {"user": {}})
    assert d.reasons == ("p:inputs:user.name:min_len: field 'user.name' is missing",)
    assert a.check_inputs("p", {"user": object()}).violations[0].detail.endswith("missing")


def test_one_rule_with_several_checks_gives_one_key_each() -> None:
    a = Auditor(
        {"level": "C", "processes": {"p": {"inputs": [{"field": "f", "min": 0, "max": 9}]}}}
    )
    assert list(a.counts()) == ["p:inputs:f:min", "p:inputs:f:max", "p:error"]


def test_repeated_keys_get_numbered_suffixes() -> None:
    recipe = AuditRecipe.from_dict(
        {
            "processes": {
                "p": {
                    "inputs": [
                        {"field": "f", "max": 100, "level": "C"},
                        {"field": "f", "max": 1000, "level": "B", "threshold_max": 0},
                        {"field": "f", "max": 5000, "level": "S"},
                    ],
                    "outputs": [{"field": "f", "max": 1}],
                }
            }
        }
    )
    assert recipe.rule_keys() == (
        "p:inputs:f:max",
        "p:inputs:f:max#2",
        "p:inputs:f:max#3",
        "p:outputs:f:max",
    )
    a = Auditor(recipe)
    assert a.check_inputs("p", {"f": 50}).action == "allow"
    assert a.check_inputs("p", {"f": 500}).action == "warn"
    d = a.check_inputs("p", {"f": 2000})
    assert d.action == "block"
    assert [v.key for v in d.violations] == ["p:inputs:f:max", "p:inputs:f:max#2"]


def test_violation_fields() -> None:
    a = Auditor({"processes": {"p": {"outputs": [{"field": "n", "max": 1, "level": "B"}]}}})
    (v,) = a.check_outputs("p", {"n": 2}).violations
    assert (v.key, v.process, v.phase, v.field, v.rule) == (
        "p:outputs:n:max",
        "p",
        "outputs",
        "n",
        "max",
    )
    assert (v.level, v.value, v.count, v.action) == (AuditLevel.B, 2, 1, "warn")
    assert v.message == v.detail == "2 > max 1"


# -- custom kinds ------------------------------------------------------------------------


class MultipleOf:
    @hookimpl
    def audit_register_rules(self, registry: RuleRegistry) -> None:
        def factory(n: Any) -> Any:
            if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
                raise ValueError(f"multiple_of must be a positive integer, got {n!r}")
            return lambda v: v % n == 0

        registry.register("multiple_of", factory)


def test_custom_kind_from_a_plugin() -> None:
    recipe = {"level": "C", "processes": {"p": {"inputs": [{"field": "f", "multiple_of": 5}]}}}
    a = Auditor(recipe, plugins=[MultipleOf()])
    assert a.check_inputs("p", {"f": 10}).action == "allow"
    d = a.check_inputs("p", {"f": 7})
    assert d.reasons == ("p:inputs:f:multiple_of: 7 fails multiple_of 5",)
    d = a.check_inputs("p", {"f": "x"})  # TypeError from the predicate: a failure
    assert d.action == "warn"
    assert "raised TypeError" in d.reasons[0]
    # without the plugin the key is unknown, with the usual message
    with pytest.raises(RecipeError, match="unknown key 'multiple_of'"):
        Auditor(recipe)


def test_custom_kind_bad_parameter_is_a_recipe_error() -> None:
    bad = {"processes": {"p": {"inputs": [{"field": "f", "multiple_of": 0}]}}}
    with pytest.raises(RecipeError) as info:
        Auditor(bad, plugins=[MultipleOf()])
    assert str(info.value) == (
        "processes.p.inputs[0].multiple_of: multiple_of must be a positive integer, got 0"
    )


def test_recipe_loaded_with_a_registry_needs_an_auditor_that_knows_the_kind() -> None:
    registry = RuleRegistry()
    registry.register(
        "even", lambda _p: lambda v: v % 2 == 0, describe=lambda p, v, e: f"{v} is odd"
    )
    recipe = AuditRecipe.from_yaml_text(
        "processes:\n  p:\n    inputs:\n      - field: f\n        even: true\n        level: C\n",
        source="r.yaml",
        registry=registry,
    )
    with pytest.raises(RecipeError) as info:
        Auditor(recipe)
    assert str(info.value) == (
        "r.yaml:5: processes.p.inputs[0].even: unknown rule kind 'even' "
        "(no plugin of this Auditor registers it)"
    )

    class Even:
        @hookimpl
        def audit_register_rules(self, registry: RuleRegistry) -> None:
            registry.register(
                "even", lambda _p: lambda v: v % 2 == 0, describe=lambda p, v, e: f"{v} is odd"
            )

    a = Auditor(recipe, plugins=[Even()])
    assert a.check_inputs("p", {"f": 3}).reasons == ("p:inputs:f:even: 3 is odd",)


def test_registry_rejects_reserved_and_duplicate_names() -> None:
    registry = RuleRegistry()
    for name in ("min", "field", "level", "message", "required", "1abc", "a-b", ""):
        with pytest.raises(ValueError):
            registry.register(name, lambda p: bool)
    registry.register("mine", lambda p: bool)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("mine", lambda p: bool)
    registry.register("mine", lambda p: callable, replace=True)
    with pytest.raises(TypeError):
        registry.register("other", 42)  # type: ignore[arg-type]
    assert "mine" in registry
    assert registry.names()[-1] == "mine"


def test_broken_describe_does_not_hide_the_failure() -> None:
    class Broken:
        @hookimpl
        def audit_register_rules(self, registry: RuleRegistry) -> None:
            def describe(p: Any, v: Any, e: BaseException | None) -> str:
                raise RuntimeError("oops")

            registry.register("never", lambda p: lambda v: False, describe=describe)

    a = Auditor(
        {"level": "C", "processes": {"p": {"inputs": [{"field": "f", "never": 1}]}}},
        plugins=[Broken()],
    )
    d = a.check_inputs("p", {"f": 1})
    assert d.action == "warn"
    assert "never failed for 1" in d.reasons[0]
