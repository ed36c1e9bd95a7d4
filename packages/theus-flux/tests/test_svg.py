"""to_svg: a well-formed, self-contained SVG drawing of every step kind."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from theus_flux import Workflow, to_svg

NS = "{http://www.w3.org/2000/svg}"

WF = """
name: draw <me> & check
steps:
  - load
  - flux: if
    condition: "domain.x > 1 and domain.y < 2"
    then: [a, b]
    else: []
  - flux: while
    condition: "domain.n < 3"
    do:
      - step
      - flux: if
        condition: "domain.flag"
        then: [c]
        else: [d]
  - flux: run
    steps: [e, {flux: wait, until: "signal.get('domain.cmd_go', False)"}]
  - flux: while
    condition: "domain.m < 1"
    do: []
"""


def _svg(text: str) -> ET.Element:
    return ET.fromstring(to_svg(Workflow.from_yaml(text)))


def test_every_step_is_drawn() -> None:
    root = _svg(WF)
    assert root.tag == f"{NS}svg"
    texts = [t.text for t in root.iter(f"{NS}text")]
    for name in ("load", "a", "b", "step", "c", "d", "e", "start", "end"):
        assert name in texts
    assert "if domain.x > 1 and domain.y < 2" in texts  # escaped on write, intact on read
    assert "wait until signal.get('domain.cmd_go', False)" in texts
    classes = [el.get("class") for el in root.iter() if el.get("class")]
    assert classes.count("process") == 7
    assert classes.count("terminal") == 2
    assert classes.count("decision") == 4  # two ifs, two whiles
    assert classes.count("wait") == 1
    assert classes.count("run") == 1
    assert root.find(f"{NS}title").text == "draw <me> & check"


def test_long_conditions_are_shortened_with_a_tooltip() -> None:
    cond = " and ".join(f"domain.v{i} > {i}" for i in range(12))
    root = _svg(f'steps:\n  - flux: if\n    condition: "{cond}"\n    then: [a]\n')
    labels = [t.text or "" for t in root.iter(f"{NS}text")]
    assert any(label.endswith("…") and len(label) <= 48 for label in labels)
    assert cond in [t.text for t in root.iter(f"{NS}title")]


def test_rendering_is_deterministic_and_sized() -> None:
    a, b = to_svg(Workflow.from_yaml(WF)), to_svg(Workflow.from_yaml(WF))
    assert a == b
    root = ET.fromstring(a)
    assert float(root.get("width", 0)) > 100 and float(root.get("height", 0)) > 300
