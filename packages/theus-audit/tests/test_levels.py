"""Exact semantics of the S/A/B/C levels, thresholds, resets and decision merging."""

from __future__ import annotations

from typing import Any

import pytest

from theus_audit import (
    AuditAbortError,
    AuditBlockError,
    AuditError,
    Auditor,
    AuditStopError,
    AuditWarning,
    Decision,
)

GOOD = {"amount": 5}
BAD = {"amount": -1}


def auditor(level: str, **extra: Any) -> Auditor:
    rule = {"field": "amount", "min": 0, "level": level, **extra}
    return Auditor({"processes": {"pay": {"inputs": [rule]}}})


KEY = "pay:inputs:amount:min"


# -- S ---------------------------------------------------------------------------------


def test_s_stops_on_first_failure_and_stays_stopped_until_reset() -> None:
    a = auditor("S")
    assert a.check_inputs("pay", GOOD).action == "allow"
    first = a.check_inputs("pay", BAD)
    assert first.action == "stop"
    assert first.reasons == (f"{KEY}: -1 < min 0",)
    assert a.stopped
    # every later check answers stop, whatever the process and values, and counts nothing
    for process, values in (("pay", GOOD), ("other", {}), ("pay", BAD)):
        d = a.check_inputs(process, values)
        assert d.action == "stop"
        assert "stopped by pay:inputs:amount:min" in d.reasons[0]
        assert a.check_outputs(process, values).action == "stop"
    assert a.counts()[KEY] == 1
    with pytest.raises(AuditStopError) as info:
        a.check_inputs("pay", GOOD).raise_for_level()
    assert isinstance(info.value, AuditError)
    a.reset()
    assert not a.stopped
    assert a.check_inputs("pay", GOOD).action == "allow"
    assert a.counts()[KEY] == 0


def test_s_ignores_thresholds_and_reset_on_success() -> None:
    a = auditor("S", threshold_max=10, reset_on_success=True)
    assert a.check_inputs("pay", BAD).action == "stop"


def test_partial_reset_does_not_lift_stop() -> None:
    a = auditor("S")
    a.check_inputs("pay", BAD)
    a.reset("pay")
    assert a.stopped
    a.reset()
    assert not a.stopped


def test_s_process_exception_stops() -> None:
    a = Auditor({"processes": {"pay": {"level": "S"}}})
    d = a.record_failure("pay", RuntimeError("disk on fire"))
    assert d.action == "stop"
    assert d.reasons == ("pay:error: RuntimeError: disk on fire",)
    assert a.check_inputs("anything", {}).action == "stop"
    # a failure recorded while stopped is counted and still answers stop
    d2 = a.record_failure("pay", RuntimeError("again"))
    assert d2.action == "stop"
    assert a.counts()["pay:error"] == 2


# -- A ---------------------------------------------------------------------------------


def test_a_aborts_every_failure_without_threshold() -> None:
    a = auditor("A", threshold_max=0)
    for n in range(1, 6):
        d = a.check_inputs("pay", BAD)
        assert d.action == "abort"
        assert not d.ok
        assert d.violations[0].count == n
    assert a.check_inputs("pay", GOOD).action == "allow"
    assert a.counts()[KEY] == 0
    assert not a.stopped
    with pytest.raises(AuditAbortError) as info:
        a.check_inputs("pay", BAD).raise_for_level()
    assert info.value.process == "pay"
    assert info.value.reasons == (f"{KEY}: -1 < min 0",)
    assert "pay" in str(info.value)


# -- B ---------------------------------------------------------------------------------


def test_b_threshold_max_3_allows_three_failures_and_blocks_the_fourth() -> None:
    a = auditor("B", threshold_max=3)
    actions = [a.check_inputs("pay", BAD).action for _ in range(5)]
    assert actions == ["warn", "warn", "warn", "block", "block"]
    assert a.counts()[KEY] == 5
    assert a.blocked() == {"pay": (KEY,)}
    with pytest.raises(AuditBlockError):
        a.check_inputs("pay", BAD).raise_for_level()


def test_b_threshold_max_0_blocks_first_failure() -> None:
    a = auditor("B", threshold_max=0)
    assert a.check_inputs("pay", BAD).action == "block"


def test_b_reset_on_success_true_a_pass_unblocks_and_restarts_the_count() -> None:
    a = auditor("B", threshold_max=3, reset_on_success=True)
    for _ in range(4):
        a.check_inputs("pay", BAD)
    assert a.blocked() == {"pay": (KEY,)}
    assert a.check_inputs("pay", GOOD).action == "allow"
    assert a.counts()[KEY] == 0
    assert a.blocked() == {}
    # consecutive failures only: three more are tolerated again
    assert [a.check_inputs("pay", BAD).action for _ in range(4)] == [
        "warn",
        "warn",
        "warn",
        "block",
    ]


def test_b_reset_on_success_false_accumulates_and_blocks_even_passing_values() -> None:
    a = auditor("B", threshold_max=3, reset_on_success=False)
    # flaky: fail, pass, fail, pass, fail -> 3 failures, still allowed
    seq = [BAD, GOOD, BAD, GOOD, BAD, GOOD]
    assert [a.check_inputs("pay", v).action for v in seq] == [
        "warn",
        "allow",
        "warn",
        "allow",
        "warn",
        "allow",
    ]
    assert a.counts()[KEY] == 3
    assert a.check_inputs("pay", BAD).action == "block"  # the 4th failure
    d = a.check_inputs("pay", GOOD)  # blocked: refused although the value passes
    assert d.action == "block"
    assert d.reasons == (f"{KEY}: blocked after 4 failures (threshold_max 3)",)
    assert d.violations == ()
    assert a.counts()[KEY] == 4
    # outputs of a blocked process are refused as well
    assert a.check_outputs("pay", {}).action == "block"
    a.reset()
    assert a.check_inputs("pay", GOOD).action == "allow"
    assert a.counts()[KEY] == 0


def test_b_blocked_input_key_refuses_process_without_repeating_reason() -> None:
    a = auditor("B", threshold_max=1, reset_on_success=False)
    a.check_inputs("pay", BAD)
    d = a.check_inputs("pay", BAD)
    assert d.action == "block"
    assert d.reasons == (f"{KEY}: -1 < min 0",)


def test_b_blocked_output_key_with_reset_is_cleared_by_a_passing_output() -> None:
    a = Auditor(
        {
            "processes": {
                "pay": {
                    "outputs": [{"field": "total", "max": 10, "level": "B", "threshold_max": 1}]
                }
            }
        }
    )
    out_key = "pay:outputs:total:max"
    assert a.check_outputs("pay", {"total": 11}).action == "warn"
    assert a.check_outputs("pay", {"total": 11}).action == "block"
    # the inputs check lets the process run so that it can produce a good output
    assert a.check_inputs("pay", {}).action == "allow"
    assert a.check_outputs("pay", {"total": 11}).action == "block"
    assert a.check_outputs("pay", {"total": 3}).action == "allow"
    assert a.counts()[out_key] == 0


def test_b_blocked_output_key_without_reset_refuses_inputs_too() -> None:
    a = Auditor(
        {
            "reset_on_success": False,
            "processes": {
                "pay": {
                    "outputs": [{"field": "total", "max": 10, "level": "B", "threshold_max": 0}]
                }
            },
        }
    )
    assert a.check_outputs("pay", {"total": 11}).action == "block"
    d = a.check_inputs("pay", {})
    assert d.action == "block"
    assert d.reasons == ("pay:outputs:total:max: blocked after 1 failures (threshold_max 0)",)


# -- C ---------------------------------------------------------------------------------


def test_c_counts_and_warns_but_never_refuses() -> None:
    a = auditor("C", threshold_max=0)
    for n in range(1, 8):
        d = a.check_inputs("pay", BAD)
        assert d.action == "warn"
        assert d.ok
        d.raise_for_level()  # no-op
        assert a.counts()[KEY] == n
    assert a.check_inputs("pay", GOOD).action == "allow"
    assert a.counts()[KEY] == 0


# -- threshold_min ---------------------------------------------------------------------


def test_threshold_min_warns_once_per_crossing_with_reset() -> None:
    a = auditor("C", threshold_min=2)
    assert a.check_inputs("pay", BAD).action == "warn"  # count 1: no AuditWarning
    with pytest.warns(AuditWarning) as rec:
        a.check_inputs("pay", BAD)  # count 2: crossing
    assert len(rec) == 1
    w = rec[0].message
    assert isinstance(w, AuditWarning)
    assert (w.key, w.count, w.threshold) == (KEY, 2, 2)
    assert rec[0].filename == __file__  # points at the caller of check_inputs
    a.check_inputs("pay", BAD)  # count 3: no new warning (filterwarnings=error would raise)
    a.check_inputs("pay", GOOD)  # reset to 0
    a.check_inputs("pay", BAD)
    with pytest.warns(AuditWarning):
        a.check_inputs("pay", BAD)  # crossing again


def test_threshold_min_without_reset_warns_once_only() -> None:
    a = auditor("C", threshold_min=1, reset_on_success=False)
    with pytest.warns(AuditWarning):
        a.check_inputs("pay", BAD)
    for v in (GOOD, BAD, GOOD, BAD):
        a.check_inputs("pay", v)  # count keeps growing past the threshold: silent
    assert a.counts()[KEY] == 3


def test_threshold_min_applies_to_b_and_process_errors() -> None:
    a = Auditor(
        {
            "level": "B",
            "threshold_min": 2,
            "threshold_max": 3,
            "processes": {"pay": {"inputs": [{"field": "amount", "min": 0}]}},
        }
    )
    a.record_failure("pay", ValueError("x"))
    with pytest.warns(AuditWarning, match="pay:error"):
        d = a.record_failure("pay", ValueError("x"))
    assert d.action == "warn"


# -- decisions with several failures -----------------------------------------------------


SEVERAL = {
    "processes": {
        "p": {
            "inputs": [
                {"field": "c", "eq": 1, "level": "C"},
                {"field": "b", "eq": 1, "level": "B", "threshold_max": 0},
                {"field": "a", "eq": 1, "level": "A"},
                {"field": "s", "eq": 1, "level": "S"},
            ]
        }
    }
}


@pytest.mark.parametrize(
    ("failing", "action"),
    [
        ((), "allow"),
        (("c",), "warn"),
        (("c", "b"), "block"),
        (("b", "c", "a"), "abort"),
        (("c", "b", "a", "s"), "stop"),
        (("s", "c"), "stop"),
        (("a", "c"), "abort"),
    ],
)
def test_most_severe_action_wins_and_all_reasons_are_listed(
    failing: tuple[str, ...], action: str
) -> None:
    a = Auditor(SEVERAL)
    values = {name: (0 if name in failing else 1) for name in "cbas"}
    d = a.check_inputs("p", values)
    assert d.action == action
    assert sorted(v.field for v in d.violations) == sorted(failing)
    assert len(d.reasons) == len(failing)
    for name in failing:
        assert any(r.startswith(f"p:inputs:{name}:eq: ") for r in d.reasons)
    assert {k: c for k, c in a.counts().items() if c} == {f"p:inputs:{n}:eq": 1 for n in failing}


def test_decision_ok_and_raise_for_level_map() -> None:
    assert Decision("allow").ok and Decision("warn").ok
    for action, error in (
        ("block", AuditBlockError),
        ("abort", AuditAbortError),
        ("stop", AuditStopError),
    ):
        d = Decision(action, ("k: why",), process="p")
        assert not d.ok
        with pytest.raises(error) as info:
            d.raise_for_level()
        assert info.value.decision is d
        assert str(info.value) == f"process 'p': {action}: k: why"


# -- process exceptions -----------------------------------------------------------------


def test_process_exception_counts_under_the_process_error_key() -> None:
    a = Auditor({"processes": {"pay": {"level": "B", "threshold_max": 2}}})
    assert a.counts() == {"pay:error": 0}
    assert [a.record_failure("pay", KeyError("k")).action for _ in range(3)] == [
        "warn",
        "warn",
        "block",
    ]
    assert a.counts() == {"pay:error": 3}
    # a blocked process is refused at its inputs check, even with no input rules
    d = a.check_inputs("pay", {})
    assert d.action == "block"
    assert d.reasons == ("pay:error: blocked after 3 failures (threshold_max 2)",)
    assert a.check_inputs("other", {}).action == "allow"
    a.record_success("pay")  # reset_on_success: an explicit success clears it
    assert a.check_inputs("pay", {}).action == "allow"
    assert a.counts() == {"pay:error": 0}


def test_record_success_does_not_reset_without_reset_on_success() -> None:
    a = Auditor(
        {"processes": {"pay": {"level": "B", "threshold_max": 0, "reset_on_success": False}}}
    )
    a.record_failure("pay", ValueError())
    a.record_success("pay")
    assert a.counts()["pay:error"] == 1
    assert a.check_inputs("pay", {}).action == "block"
    a.reset("pay")
    assert a.check_inputs("pay", {}).action == "allow"


def test_exceptions_of_unknown_processes_use_the_recipe_defaults() -> None:
    a = Auditor({"level": "C"})
    d = a.record_failure("ghost", ZeroDivisionError("division by zero"))
    assert d.action == "warn"
    assert d.violations[0].key == "ghost:error"
    assert d.violations[0].value.args == ("division by zero",)
    assert a.counts() == {"ghost:error": 1}
    a.record_success("ghost")
    a.record_success("never-seen")  # no-op
    assert a.counts() == {"ghost:error": 0}


def test_rule_failures_and_exceptions_count_separately() -> None:
    a = auditor("C")
    a.check_inputs("pay", BAD)
    a.record_failure("pay", ValueError())
    a.record_success("pay")  # the process committed: resets the error key only
    assert a.counts() == {KEY: 1, "pay:error": 0}


def test_reset_of_one_process_leaves_others() -> None:
    a = Auditor(
        {
            "level": "C",
            "processes": {
                "p": {"inputs": [{"field": "x", "min": 0}]},
                "q": {"inputs": [{"field": "x", "min": 0}]},
            },
        }
    )
    a.check_inputs("p", {"x": -1})
    a.check_inputs("q", {"x": -1})
    a.reset("p")
    assert a.counts()["p:inputs:x:min"] == 0
    assert a.counts()["q:inputs:x:min"] == 1


def test_no_recipe_allows_everything() -> None:
    a = Auditor()
    assert a.check_inputs("p", {"x": 1}).action == "allow"
    assert a.check_outputs("p", {}).action == "allow"
    assert a.record_failure("p", ValueError()).action == "abort"  # default level A


# -- fast-path queries -------------------------------------------------------------------


def test_is_clear_and_is_idle_follow_rules_blocks_stops_and_failure_counts() -> None:
    a = Auditor(
        {
            "processes": {
                "pay": {
                    "inputs": [{"field": "amount", "min": 0, "level": "B", "threshold_max": 1}]
                },
                "ship": {"outputs": [{"field": "n", "max": 3, "level": "S"}]},
            }
        }
    )
    assert not a.is_clear("pay") and a.is_clear("pay", "outputs")
    assert a.is_clear("ship") and not a.is_clear("ship", "outputs")
    assert a.is_clear("other") and a.is_clear("other", "outputs")
    assert a.is_idle("other") and not a.is_idle("pay") and not a.is_idle("ship")
    a.record_failure("other", RuntimeError("boom"))
    assert not a.is_idle("other")  # record_success has a count to reset
    a.record_success("other")
    assert a.is_idle("other")
    assert [a.check_inputs("pay", BAD).action for _ in range(2)] == ["warn", "block"]
    assert a.blocked() == {"pay": (KEY,)}
    assert not a.is_clear("pay", "outputs")  # blocked: every phase is refused
    a.check_outputs("ship", {"n": 4})
    assert a.stopped
    assert not a.is_clear("other") and not a.is_idle("other")
    a.reset()
    assert a.is_idle("other") and a.is_clear("pay", "outputs")


def test_generation_changes_whenever_an_is_idle_or_is_clear_answer_may_change() -> None:
    a = Auditor(
        {
            "processes": {
                "pay": {
                    "inputs": [{"field": "amount", "min": 0, "level": "B", "threshold_max": 1}]
                },
                "ship": {"outputs": [{"field": "n", "max": 3, "level": "S"}]},
            }
        }
    )

    def answers() -> list[bool]:
        return [
            f(p, *phase)
            for p in ("pay", "ship", "other")
            for f, phase in ((a.is_idle, ()), (a.is_clear, ()), (a.is_clear, ("outputs",)))
        ]

    steps = [
        ("pass pay", lambda: a.check_inputs("pay", {"amount": 5})),
        ("pass ship", lambda: a.check_outputs("ship", {"n": 1})),
        ("success, nothing counted", lambda: a.record_success("other")),
        ("fail other", lambda: a.record_failure("other", RuntimeError("boom"))),
        ("success resets other", lambda: a.record_success("other")),
        ("warn pay", lambda: a.check_inputs("pay", BAD)),
        ("block pay", lambda: a.check_inputs("pay", BAD)),
        ("pass pay lifts the block", lambda: a.check_inputs("pay", {"amount": 5})),
        ("stop", lambda: a.check_outputs("ship", {"n": 4})),
        ("reset one process", lambda: a.reset("pay")),
        ("reset all", lambda: a.reset()),
    ]
    changed = []
    for label, step in steps:
        before, generation = answers(), a.generation
        step()
        if a.generation == generation:
            # a caller keeping the answers at this generation would still be right
            assert answers() == before, label
        else:
            changed.append(label)
    assert "pass pay" not in changed and "pass ship" not in changed
    assert {"fail other", "success resets other", "block pay", "stop", "reset all"} <= set(changed)
