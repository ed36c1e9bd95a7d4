"""Recipe loading: YAML and dict, inheritance, YAML 1.2 scalars, every bad-recipe message."""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from theus_audit import AuditLevel, Auditor, AuditRecipe, RecipeError, Settings

GOOD_YAML = """\
level: B
threshold_max: 5
threshold_min: 2
reset_on_success: false
processes:
  transfer:
    level: A
    inputs:
      - field: amount
        min: 0
        max: 10000
        level: B
        threshold_max: 3
        message: amount out of range
      - field: currency
        in: [EUR, USD]
    outputs:
      - field: status
        regex: "^(ok|pending)$"
        level: C
        reset_on_success: true
  audit_only:
    outputs:
      - field: when
        min: 2024-01-01
        required: false
"""


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_yaml_recipe_settings_are_inherited_rule_process_top(tmp_path: Path) -> None:
    recipe = AuditRecipe.from_yaml(write(tmp_path, GOOD_YAML))
    assert recipe.defaults == Settings(AuditLevel.B, 5, 2, False)
    transfer = recipe.processes["transfer"]
    assert transfer.settings == Settings(AuditLevel.A, 5, 2, False)
    amount, currency = transfer.inputs
    assert amount.settings == Settings(AuditLevel.B, 3, 2, False)
    assert amount.message == "amount out of range"
    assert [(c.kind, c.param, c.key) for c in amount.checks] == [
        ("min", 0, "transfer:inputs:amount:min"),
        ("max", 10000, "transfer:inputs:amount:max"),
    ]
    assert currency.settings == transfer.settings
    (status,) = transfer.outputs
    assert status.settings == Settings(AuditLevel.C, 5, 2, True)
    (when,) = recipe.processes["audit_only"].outputs
    assert when.checks[0].param == dt.date(2024, 1, 1)
    assert when.required is False
    assert recipe.settings_for("audit_only") == recipe.defaults
    assert recipe.settings_for("unknown") == recipe.defaults
    assert recipe.source == str(tmp_path / "recipe.yaml")
    assert amount.line == 9
    assert amount.checks[1].line == 11


def test_to_dict_round_trips(tmp_path: Path) -> None:
    recipe = AuditRecipe.from_yaml(write(tmp_path, GOOD_YAML))
    again = AuditRecipe.from_dict(recipe.to_dict())
    assert again.to_dict() == recipe.to_dict()
    assert again.rule_keys() == recipe.rule_keys()


def test_process_recipes_alias_and_defaults() -> None:
    recipe = AuditRecipe.from_dict(
        {"process_recipes": {"p": {"inputs": [{"field": "x", "eq": 1}]}}}
    )
    assert recipe.rule_keys() == ("p:inputs:x:eq",)
    assert recipe.defaults == Settings(AuditLevel.A, 3, None, True)
    assert AuditRecipe.from_dict({}).processes == {}
    assert AuditRecipe().processes == {}


def test_levels_accept_letters_and_names_case_insensitively() -> None:
    for text, level in (("s", "S"), ("Stop", "S"), ("ABORT", "A"), ("block", "B"), ("count", "C")):
        assert AuditRecipe.from_dict({"level": text}).defaults.level == level
    assert AuditRecipe.from_dict({"level": AuditLevel.B}).defaults.level is AuditLevel.B


def test_yaml_booleans_are_yaml_1_2(tmp_path: Path) -> None:
    recipe = AuditRecipe.from_yaml_text(
        textwrap.dedent(
            """\
            reset_on_success: False
            processes:
              p:
                inputs:
                  - {field: answer, in: [yes, no, on, off, y, n]}
                  - {field: flag, eq: true}
                  - {field: mode, eq: 0755}
                  - {field: clock, eq: 1:20}
                  - {field: big, max: 1e3}
                  - {field: none, eq: ~}
            """
        )
    )
    assert recipe.defaults.reset_on_success is False
    params = [r.checks[0].param for r in recipe.processes["p"].inputs]
    assert params == [["yes", "no", "on", "off", "y", "n"], True, 755, "1:20", 1000.0, None]
    a = Auditor(recipe)
    assert (
        a.check_inputs(
            "p",
            {"answer": "no", "flag": True, "mode": 755, "clock": "1:20", "big": 3, "none": None},
        ).action
        == "allow"
    )
    assert (
        a.check_inputs(
            "p",
            {"answer": False, "flag": True, "mode": 755, "clock": "1:20", "big": 3, "none": None},
        ).action
        == "abort"
    )


def test_yes_where_a_boolean_is_expected_is_rejected() -> None:
    with pytest.raises(RecipeError) as info:
        AuditRecipe.from_yaml_text("reset_on_success: yes\n", source="r.yaml")
    assert str(info.value) == "r.yaml:1: reset_on_success: expected true or false, got str 'yes'"


def test_auditor_accepts_path_and_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_YAML)
    for source in (path, AuditRecipe.from_yaml(str(path)), AuditRecipe.from_yaml(path).to_dict()):
        a = Auditor(source)
        assert a.check_inputs("transfer", {"amount": 1, "currency": "EUR"}).action == "allow"
        d = a.check_inputs("transfer", {"amount": -1, "currency": "EUR"})
        assert d.reasons == ("transfer:inputs:amount:min: amount out of range",)
    with pytest.raises(TypeError, match="recipe must be"):
        Auditor("recipe.yaml")  # type: ignore[arg-type]  # str is not taken as a path


def test_loading_reads_only_the_given_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "level: [bad\n", name="audit_recipe.yaml")
    write(tmp_path, "level: [bad\n", name="recipe.yaml")
    monkeypatch.chdir(tmp_path)
    a = Auditor()  # no implicit lookup in the working directory
    assert a.recipe.processes == {}
    assert sorted(os.listdir(tmp_path)) == ["audit_recipe.yaml", "recipe.yaml"]


def test_missing_file_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        AuditRecipe.from_yaml(tmp_path / "nope.yaml")


# -- every bad-recipe case, YAML (file:line: key: problem) -------------------------------

BAD_YAML: list[tuple[str, str]] = [
    (
        "processes:\n  transfer:\n    inputs:\n      - field: amount\n        mni: 0\n",
        "recipe.yaml:5: processes.transfer.inputs[0]: unknown key 'mni', did you mean 'min'? "
        "(expected one of: field, level, threshold_max, threshold_min, reset_on_success, "
        "message, required, min, max, eq, neq, min_len, max_len, regex, in, not_in)",
    ),
    (
        "level: A\nproceses: {}\n",
        "recipe.yaml:2: unknown key 'proceses', did you mean 'processes'? (expected one of: "
        "level, threshold_max, threshold_min, reset_on_success, processes, process_recipes)",
    ),
    (
        "processes:\n  p:\n    input: []\n",
        "recipe.yaml:3: processes.p: unknown key 'input', did you mean 'inputs'? (expected one "
        "of: level, threshold_max, threshold_min, reset_on_success, inputs, outputs)",
    ),
    (
        "level: X\n",
        "recipe.yaml:1: level: unknown level 'X' (expected one of S, A, B, C (or stop, abort, "
        "block, count))",
    ),
    (
        "processes:\n  p:\n    level: 3\n",
        "recipe.yaml:3: processes.p.level: expected a level (S, A, B, C (or stop, abort, "
        "block, count)), got int",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - field: x\n        min: 0\n        level: Z\n",
        "recipe.yaml:6: processes.p.inputs[0].level: unknown level 'Z' (expected one of S, A, "
        "B, C (or stop, abort, block, count))",
    ),
    (
        "threshold_max: three\n",
        "recipe.yaml:1: threshold_max: expected an integer, got str 'three'",
    ),
    ("threshold_max: true\n", "recipe.yaml:1: threshold_max: expected an integer, got bool True"),
    ("threshold_max: -1\n", "recipe.yaml:1: threshold_max: must be >= 0, got -1"),
    ("threshold_max: 2.5\n", "recipe.yaml:1: threshold_max: expected an integer, got float 2.5"),
    ("threshold_min: 0\n", "recipe.yaml:1: threshold_min: must be >= 1, got 0"),
    ("reset_on_success: 1\n", "recipe.yaml:1: reset_on_success: expected true or false, got int 1"),
    (
        "reset_on_success: off\n",
        "recipe.yaml:1: reset_on_success: expected true or false, got str 'off'",
    ),
    ("- level: A\n", "recipe.yaml:1: the recipe must be a mapping, got list"),
    ("just text\n", "recipe.yaml:1: the recipe must be a mapping, got str"),
    ("", "recipe.yaml:1: expected a mapping at the top of the recipe, got an empty document"),
    (
        "# only a comment\n",
        "recipe.yaml:1: expected a mapping at the top of the recipe, got an empty document",
    ),
    ("processes: [a, b]\n", "recipe.yaml:1: processes: 'processes' must be a mapping, got list"),
    ("processes:\n", "recipe.yaml:1: processes: 'processes' must be a mapping, got null"),
    (
        "processes: {}\nprocess_recipes: {}\n",
        "recipe.yaml:2: use either 'processes' or its alias 'process_recipes', not both",
    ),
    ("processes:\n  p: 3\n", "recipe.yaml:2: processes.p: process 'p' must be a mapping, got int"),
    ("processes:\n  p:\n", "recipe.yaml:2: processes.p: process 'p' must be a mapping, got null"),
    (
        "processes:\n  1: {}\n",
        "recipe.yaml:2: processes: process names must be non-empty strings, got int 1",
    ),
    (
        "processes:\n  p:\n    inputs: {field: x}\n",
        "recipe.yaml:3: processes.p.inputs: expected a list of rules, got mapping",
    ),
    (
        "processes:\n  p:\n    outputs: x\n",
        "recipe.yaml:3: processes.p.outputs: expected a list of rules, got str",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - ok\n",
        "recipe.yaml:4: processes.p.inputs[0]: a rule must be a mapping, got str",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - min: 0\n",
        "recipe.yaml:4: processes.p.inputs[0]: rule has no 'field'",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: 3, min: 0}\n",
        "recipe.yaml:4: processes.p.inputs[0].field: expected a non-empty string, got int 3",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: '', min: 0}\n",
        "recipe.yaml:4: processes.p.inputs[0].field: expected a non-empty string, got str ''",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - field: x\n        level: B\n",
        "recipe.yaml:4: processes.p.inputs[0]: rule for field 'x' has no check (expected one "
        "of: min, max, eq, neq, min_len, max_len, regex, in, not_in)",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: x, min: 0, message: 5}\n",
        "recipe.yaml:4: processes.p.inputs[0].message: expected a string, got int",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: x, min: 0, required: no}\n",
        "recipe.yaml:4: processes.p.inputs[0].required: expected true or false, got str 'no'",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - field: x\n        min:\n",
        "recipe.yaml:5: processes.p.inputs[0].min: min needs a value, got null",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - field: x\n        min: 5\n        max: 1\n",
        "recipe.yaml:6: processes.p.inputs[0].max: min 5 is greater than max 1",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - field: x\n        min: a\n        max: 1\n",
        "recipe.yaml:6: processes.p.inputs[0].max: min 'a' and max 1 cannot be compared",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: x, min_len: 3, max_len: 2}\n",
        "recipe.yaml:4: processes.p.inputs[0].max_len: min_len 3 is greater than max_len 2",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: x, min_len: -1}\n",
        "recipe.yaml:4: processes.p.inputs[0].min_len: min_len must be >= 0, got -1",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: x, max_len: '3'}\n",
        "recipe.yaml:4: processes.p.inputs[0].max_len: max_len must be an integer, got str",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: x, regex: '(unclosed'}\n",
        "recipe.yaml:4: processes.p.inputs[0].regex: invalid regex '(unclosed': missing ), "
        "unterminated subpattern at position 0",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: x, regex: 5}\n",
        "recipe.yaml:4: processes.p.inputs[0].regex: regex must be a string, got int",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: x, in: EUR}\n",
        "recipe.yaml:4: processes.p.inputs[0].in: in must be a list, got str",
    ),
    (
        "processes:\n  p:\n    inputs:\n      - {field: x, not_in: []}\n",
        "recipe.yaml:4: processes.p.inputs[0].not_in: not_in must not be empty",
    ),
    (
        "processes:\n  p:\n    outputs:\n      - {field: x, min: 0}\n"
        "      - {field: y, max: 1, threshold_max: x}\n",
        "recipe.yaml:5: processes.p.outputs[1].threshold_max: expected an integer, got str 'x'",
    ),
    ("level: A\nlevel: B\n", "recipe.yaml:2: invalid YAML: found duplicate key 'level'"),
    (
        "processes: [\n",
        "recipe.yaml:2: invalid YAML: expected the node content, but found '<stream end>'",
    ),
    (
        "a: 1\n---\nb: 2\n",
        "recipe.yaml:2: invalid YAML: expected a single document in the stream, "
        "but found another document",
    ),
    (
        "level: A\n  bad: indent\n",
        "recipe.yaml:2: invalid YAML: mapping values are not allowed here",
    ),
    ("? [a, b]\n: 1\n", "recipe.yaml:1: invalid YAML: found an unhashable key"),
    ("{1: 2}\n", "recipe.yaml:1: keys must be strings, got int 1"),
]


@pytest.mark.parametrize(
    ("text", "message"), BAD_YAML, ids=[m.split(": ", 2)[-1][:40] for _, m in BAD_YAML]
)
def test_bad_yaml_recipe_names_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        AuditRecipe.from_yaml(path)
    expected = message.replace("recipe.yaml", str(path), 1)
    assert str(info.value) == expected
    assert info.value.source == str(path)
    assert isinstance(info.value, ValueError)
    # the Auditor surfaces the same error
    with pytest.raises(RecipeError, match="^" + str(path).replace("\\", "\\\\")):
        Auditor(path)


def test_recipe_error_attributes() -> None:
    with pytest.raises(RecipeError) as info:
        AuditRecipe.from_yaml_text(
            "processes:\n  t:\n    inputs:\n      - {field: a, mni: 0}\n", source="r.yaml"
        )
    err = info.value
    assert (err.source, err.line, err.key) == ("r.yaml", 4, "processes.t.inputs[0]")
    assert err.problem.startswith("unknown key 'mni', did you mean 'min'?")


# -- dict recipes: key path, no line ------------------------------------------------------

BAD_DICT: list[tuple[Any, str]] = [
    (
        {"processes": {"t": {"inputs": [{"field": "a", "mni": 0}]}}},
        "processes.t.inputs[0]: unknown key 'mni', did you mean 'min'? (expected one of: "
        "field, level, threshold_max, threshold_min, reset_on_success, message, required, "
        "min, max, eq, neq, min_len, max_len, regex, in, not_in)",
    ),
    (
        {"levle": "A"},
        "unknown key 'levle', did you mean 'level'? (expected one of: level, threshold_max, "
        "threshold_min, reset_on_success, processes, process_recipes)",
    ),
    (
        {"level": "Q"},
        "level: unknown level 'Q' (expected one of S, A, B, C (or stop, abort, block, count))",
    ),
    (
        {"level": None},
        "level: expected a level (S, A, B, C (or stop, abort, block, count)), got null",
    ),
    ({"threshold_max": "3"}, "threshold_max: expected an integer, got str '3'"),
    ({"reset_on_success": "false"}, "reset_on_success: expected true or false, got str 'false'"),
    ({1: 2}, "keys must be strings, got int 1"),
    ([], "the recipe must be a mapping, got list"),
    (
        {"processes": {"a.b": {"inputs": [{"field": "x"}]}}},
        "processes.'a.b'.inputs[0]: rule for field 'x' has no check (expected one of: min, "
        "max, eq, neq, min_len, max_len, regex, in, not_in)",
    ),
    (
        {"processes": {"p": {"inputs": ({"field": "x", "in": "ab"},)}}},
        "processes.p.inputs[0].in: in must be a list, got str",
    ),
    (
        {"processes": {"p": {"outputs": [{"field": "x", "min": 0, "threshold_min": 0}]}}},
        "processes.p.outputs[0].threshold_min: must be >= 1, got 0",
    ),
    ({"processes": {"": {}}}, "processes: process names must be non-empty strings, got str ''"),
]


@pytest.mark.parametrize(("mapping", "message"), BAD_DICT)
def test_bad_dict_recipe_names_the_key_path(mapping: Any, message: str) -> None:
    with pytest.raises(RecipeError) as info:
        AuditRecipe.from_dict(mapping)
    assert str(info.value) == message
    assert info.value.line is None
    with pytest.raises(RecipeError) as info2:
        AuditRecipe.from_dict(mapping, source="config:audit")
    assert str(info2.value) == f"config:audit: {message}"


def test_threshold_min_null_disables_warnings() -> None:
    recipe = AuditRecipe.from_dict(
        {"threshold_min": 2, "processes": {"p": {"threshold_min": None}}}
    )
    assert recipe.defaults.threshold_min == 2
    assert recipe.processes["p"].settings.threshold_min is None
