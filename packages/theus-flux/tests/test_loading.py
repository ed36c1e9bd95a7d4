from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import yaml

from theus_flux import (
    FluxLoader,
    IfStep,
    InvalidWorkflow,
    ProcessStep,
    RunStep,
    WaitStep,
    WhileStep,
    Workflow,
)

DESIGN = """
steps:
  - initialize                 # bare name = process step
  - process: load_batch
  - flux: if
    condition: "domain.is_valid and len(domain.items) > 0"
    then: [process_data, save_result]
    else: [handle_error]
  - flux: while
    condition: "domain.items_left > 0"
    do: [process_next_item]
  - flux: run
    steps: [a, b]
"""


def test_design_example_builds_the_ir() -> None:
    wf = Workflow.from_yaml(DESIGN)
    assert wf.source == "<string>"
    s0, s1, s2, s3, s4 = wf.steps
    assert s0 == ProcessStep("initialize", 3)  # the text starts with a newline
    assert s1 == ProcessStep("load_batch", 4)
    assert isinstance(s2, IfStep) and s2.line == 5
    assert s2.condition.text == "domain.is_valid and len(domain.items) > 0"
    assert [s.name for s in s2.then] == ["process_data", "save_result"]  # type: ignore[union-attr]
    assert [s.name for s in s2.else_] == ["handle_error"]  # type: ignore[union-attr]
    assert isinstance(s3, WhileStep) and s3.do == (ProcessStep("process_next_item", 11),)
    assert isinstance(s4, RunStep) and [s.name for s in s4.steps] == ["a", "b"]  # type: ignore[union-attr]
    paths = [path for path, _ in wf.walk()]
    assert paths == [
        "steps[0]",
        "steps[1]",
        "steps[2]",
        "steps[2].then[0]",
        "steps[2].then[1]",
        "steps[2].else[0]",
        "steps[3]",
        "steps[3].do[0]",
        "steps[4]",
        "steps[4].steps[0]",
        "steps[4].steps[1]",
    ]
    assert wf.step_at("steps[3].do[0]") == ProcessStep("process_next_item", 11)
    with pytest.raises(KeyError):
        wf.step_at("steps[9]")


def test_ir_is_frozen_and_fingerprinted() -> None:
    wf = Workflow.from_yaml(DESIGN)
    with pytest.raises(dataclasses.FrozenInstanceError):
        wf.steps = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        wf.steps[0].name = "x"  # type: ignore[misc, union-attr]
    assert Workflow.from_yaml(DESIGN).fingerprint == wf.fingerprint
    assert Workflow.from_yaml(DESIGN) == wf
    changed = Workflow.from_yaml(DESIGN.replace("items_left > 0", "items_left > 1"))
    assert changed.fingerprint != wf.fingerprint


def test_name_description_and_wait() -> None:
    wf = Workflow.from_yaml(
        "name: approve\ndescription: waits for a human\nsteps:\n"
        "  - flux: wait\n    until: \"signal.get('domain.cmd_ok', False)\"\n"
    )
    assert wf.name == "approve" and wf.description == "waits for a human"
    (step,) = wf.steps
    assert isinstance(step, WaitStep) and step.line == 4


def test_yaml_booleans_are_only_true_and_false() -> None:
    text = "name: yes\nsteps:\n  - on\n  - off\n  - yes\n  - no\n  - y\n  - n\n  - Yes\n  - NO\n"
    wf = Workflow.from_yaml(text)
    assert wf.name == "yes"
    assert [s.name for s in wf.steps] == ["on", "off", "yes", "no", "y", "n", "Yes", "NO"]  # type: ignore[union-attr]
    assert yaml.load("[true, True, TRUE, false, on, yes]", Loader=FluxLoader) == [
        True,
        True,
        True,
        False,
        "on",
        "yes",
    ]
    cond = Workflow.from_yaml("steps:\n  - flux: while\n    condition: false\n    do: [a]\n")
    assert cond.steps[0].condition.text == "False"  # type: ignore[union-attr]


def test_sources_path_text_bytes(tmp_path: Path, fixtures: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(DESIGN, encoding="utf-8")
    by_path = Workflow.from_yaml(path)
    by_str = Workflow.from_yaml(str(path))
    assert by_path.source == by_str.source == str(path)
    other = tmp_path / "workflow.txt"  # any existing file, whatever its suffix
    other.write_text(DESIGN, encoding="utf-8")
    assert Workflow.from_yaml(str(other)).steps == by_path.steps
    assert Workflow.from_yaml(DESIGN.encode()).source == "<bytes>"
    assert Workflow.from_yaml("steps: [a, b]").steps == (ProcessStep("a", 1), ProcessStep("b", 1))
    assert Workflow.from_yaml("steps: [a]", source="inline").source == "inline"
    assert Workflow.from_yaml(fixtures / "ordering" / "sequence.yaml").name == "sequence"
    with pytest.raises(FileNotFoundError):
        Workflow.from_yaml(str(tmp_path / "missing.yaml"))
    with pytest.raises(InvalidWorkflow, match="not UTF-8"):
        Workflow.from_yaml(b"steps: [\xff]")
    with pytest.raises(TypeError):
        Workflow.from_yaml(42)  # type: ignore[arg-type]


def test_from_dict() -> None:
    wf = Workflow.from_dict(
        {
            "name": "d",
            "steps": [
                "a",
                {"flux": "while", "condition": "domain.n > 0", "do": ["dec:n"]},
                {"flux": "run", "steps": [{"process": "b"}]},
            ],
        }
    )
    assert wf.source == "<dict>"
    assert [p for p, _ in wf.walk()] == [
        "steps[0]",
        "steps[1]",
        "steps[1].do[0]",
        "steps[2]",
        "steps[2].steps[0]",
    ]
    with pytest.raises(InvalidWorkflow, match=r"^<dict>: unknown key 'nope'") as info:
        Workflow.from_dict({"steps": [], "nope": 1})
    assert info.value.line == 0 and info.value.token == "nope"
    with pytest.raises(InvalidWorkflow, match="not plain data"):
        Workflow.from_dict({"steps": [object()]})


def test_merge_keys_override_but_duplicates_are_rejected() -> None:
    text = (
        "steps:\n"
        "  - &loop\n"
        "    flux: while\n"
        "    condition: domain.n > 0\n"
        "    do: [a]\n"
        "  - <<: *loop\n"
        "    do: [b]\n"
    )
    wf = Workflow.from_yaml(text)
    assert wf.steps[1].do == (ProcessStep("b", 7),)  # type: ignore[union-attr]
    assert wf.steps[1].condition.text == "domain.n > 0"  # type: ignore[union-attr]


def _nested_runs(depth: int) -> str:
    return "steps: " + "[{flux: run, steps: " * depth + "[a]" + "}]" * depth + "\n"


# (yaml text, expected line, expected token (None: not checked), message fragment)
INVALID = [
    ("steps: [a]\nnmae: x\n", 2, "nmae", "unknown key 'nmae' in the workflow"),
    ("name: x\n", 1, "steps", "needs the key 'steps'"),
    ("steps: a\n", 1, None, "must be a list of steps"),
    ("steps:\n", 1, None, "must be a list of steps, not empty"),
    ("steps:\n  - [a, b]\n", 2, None, "must be a process name or a mapping"),
    ("steps:\n  - 42\n", 2, "42", "must be a process name or a mapping, not 42"),
    ("steps:\n  - true\n", 2, "True", "not True"),
    ("steps:\n  - ~\n", 2, "None", "not None"),
    ("steps:\n  - a\n  - flux: loop\n    do: [a]\n", 3, "loop", "unknown step kind 'loop'"),
    (
        "steps:\n  - flux: if\n    condition: domain.a\n    thn: [a]\n",
        4,
        "thn",
        "unknown key 'thn'",
    ),
    ("steps:\n  - flux: if\n    then: [a]\n", 2, "condition", "needs the key 'condition'"),
    ("steps:\n  - flux: while\n    condition: domain.a\n", 2, "do", "needs the key 'do'"),
    ("steps:\n  - flux: run\n", 2, "steps", "needs the key 'steps'"),
    ("steps:\n  - flux: wait\n", 2, "until", "needs the key 'until'"),
    ("steps:\n  - process: a\n    flux: run\n", 2, "process", "unknown key 'process'"),
    ("steps:\n  - flux: run\n    steps: []\n    process: a\n", 4, "process", "unknown key"),
    ("steps:\n  - process: a\n    then: [b]\n", 3, "then", "unknown key 'then'"),
    ("steps:\n  - name: a\n", 2, "name", "needs 'process' or 'flux'"),
    (
        "steps:\n  - flux: if\n    condition: domain.a\n    condition: domain.b\n    then: []\n",
        4,
        "condition",
        "duplicate key 'condition'",
    ),
    ("steps: [a]\nsteps: [b]\n", 2, "steps", "duplicate key 'steps'"),
    ("steps:\n  - process: ''\n", 2, "", "must be a non-empty string"),
    ("steps:\n  - process: [a]\n", 2, None, "expected a single value"),
    ("steps: [a, b\n", 2, None, "invalid YAML"),
    ("steps:\n\t- a\n", 2, None, "invalid YAML"),
    ("", 1, None, "empty workflow"),
    ("steps: [a]\n---\nsteps: [b]\n", 2, None, "expected a single document"),
    ("steps:\n  - flux: if\n    condition: 'domain.x +'\n    then: []\n", 3, None, "syntax"),
    ("steps:\n  - flux: if\n    condition: 5\n    then: []\n", 3, "5", "must be a string"),
    ("steps:\n  - !!python/object:os.system a\n", 2, None, "invalid YAML"),
    ("- a\n- b\n", 1, None, "must be a mapping"),
    ("steps: [a]\n1: x\n", 2, "1", "keys of the workflow must be strings"),
    ("name: [x]\nsteps: [a]\n", 1, None, "expected a single value"),
    ("steps:\n  - flux: if\n    condition: domain.a\n    then: a\n", 4, None, "must be a list"),
    ("steps:\n  - flux: [if]\n", 2, None, "expected a single value"),
    (_nested_runs(150), 1, None, "nested deeper than"),
    ("steps: &s\n  - flux: run\n    steps: *s\n", 1, None, "nested deeper than"),
    ("steps:\n  - <<: 5\n", 2, None, "invalid YAML"),
]


@pytest.mark.parametrize(("text", "line", "token", "fragment"), INVALID)
def test_invalid_workflows_name_line_and_token(
    text: str, line: int, token: str | None, fragment: str
) -> None:
    with pytest.raises(InvalidWorkflow) as info:
        Workflow.from_yaml(text)
    err = info.value
    assert err.source == "<string>"
    assert err.line == line, str(err)
    assert str(err).startswith(f"<string>:{line}: "), str(err)
    assert fragment in str(err)
    if token is not None:
        assert err.token == token
    assert isinstance(err, ValueError)


def test_file_errors_name_the_file(fixtures: Path) -> None:
    path = fixtures / "invalid" / "unknown_key.yaml"
    with pytest.raises(InvalidWorkflow) as info:
        Workflow.from_yaml(path)
    assert str(info.value).startswith(f"{path}:7: unknown key 'otherwise'")
    assert info.value.token == "otherwise"
    hostile = fixtures / "invalid" / "hostile_condition.yaml"
    with pytest.raises(InvalidWorkflow) as info:
        Workflow.from_yaml(str(hostile))
    assert info.value.where == f"{hostile}:4"
    assert info.value.token == "__import__"


def test_invalid_workflow_pickles() -> None:
    import pickle

    err = InvalidWorkflow("f.yaml", 3, "bad", "tok")
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.source, clone.line, clone.detail, clone.token) == ("f.yaml", 3, "bad", "tok")
    assert str(clone) == "f.yaml:3: bad"


def test_deep_but_allowed_nesting_loads() -> None:
    wf = Workflow.from_yaml(_nested_runs(60))
    assert sum(1 for _ in wf.walk()) == 61
    assert sys.getrecursionlimit() >= 1000
