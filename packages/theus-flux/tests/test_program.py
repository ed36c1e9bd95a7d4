"""The flat program layout the runner interprets (see ``_program``)."""

from __future__ import annotations

from theus_flux import Workflow
from theus_flux._program import compile_program

DESIGN = """steps:
  - initialize
  - flux: if
    condition: "domain.ok"
    then: [yes]
    else: [no]
  - flux: while
    condition: "domain.n > 0"
    do: [work]
  - flux: run
    steps: [a]
  - flux: if
    condition: "domain.x"
    then: [only]
"""


def test_layout_of_every_kind() -> None:
    program = compile_program(Workflow.from_yaml(DESIGN))
    rows = [line.split() for line in program.dump().splitlines()]
    ops = [(row[0], row[1], row[-1]) for row in rows]
    assert ops == [
        ("0", "PROC", "steps[0]"),
        ("1", "IF", "steps[1]"),
        ("2", "PROC", "steps[1].then[0]"),
        ("3", "JUMP", "steps[1]"),
        ("4", "PROC", "steps[1].else[0]"),
        ("5", "END", "steps[1]"),
        ("6", "LOOP", "steps[2]"),
        ("7", "TEST", "steps[2]"),
        ("8", "PROC", "steps[2].do[0]"),
        ("9", "JUMP", "steps[2]"),
        ("10", "END", "steps[2]"),
        ("11", "RUN", "steps[3]"),
        ("12", "PROC", "steps[3].steps[0]"),
        ("13", "END", "steps[3]"),
        ("14", "IF", "steps[4]"),
        ("15", "PROC", "steps[4].then[0]"),
        ("16", "END", "steps[4]"),
    ]
    code = program.code
    assert code[1][2] == 4 and code[3][2] == 5  # IF -> else, JUMP -> END
    assert code[7][2] == 10 and code[9][2] == 7  # TEST -> END, JUMP -> TEST
    assert code[14][2] == 16  # an IF without else jumps to its END
    assert program.loops[8] == (0,) and program.loops[12] == ()
    assert program.parents[8] == (6,) and program.owner[9] == 6
    assert program.leaf_pc == {
        "steps[0]": 0,
        "steps[1].then[0]": 2,
        "steps[1].else[0]": 4,
        "steps[2].do[0]": 8,
        "steps[3].steps[0]": 12,
        "steps[4].then[0]": 15,
    }
