"""Property: every key's counter equals the failures recorded for it (model-based)."""

from __future__ import annotations

import threading
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from theus_audit import Auditor, Violation, hookimpl

FIELDS = ("a", "b", "c")
PROCESSES = ("p", "q")


class Counter:
    def __init__(self) -> None:
        self.by_key: dict[str, int] = {}

    @hookimpl
    def audit_violation(self, violation: Violation) -> None:
        self.by_key[violation.key] = self.by_key.get(violation.key, 0) + 1


levels = st.sampled_from(["A", "B", "C"])
rule_configs = st.fixed_dictionaries(
    {"level": levels, "threshold_max": st.integers(0, 4), "reset_on_success": st.booleans()}
)

# operations: ("check", process, phase, {field: passes}), ("fail", process), ("ok", process)
check_op = st.tuples(
    st.just("check"),
    st.sampled_from(PROCESSES),
    st.sampled_from(["inputs", "outputs"]),
    st.fixed_dictionaries({f: st.booleans() for f in FIELDS}),
)
outcome_op = st.tuples(st.sampled_from(["fail", "ok"]), st.sampled_from(PROCESSES))
operations = st.lists(st.one_of(check_op, outcome_op), max_size=60)


@settings(max_examples=150, deadline=None)
@given(
    configs=st.fixed_dictionaries({f: rule_configs for f in FIELDS}),
    proc_reset=st.booleans(),
    ops=operations,
)
def test_counters_equal_recorded_failures(
    configs: dict[str, dict[str, Any]], proc_reset: bool, ops: list[Any]
) -> None:
    rules = [{"field": f, "min": 0, **configs[f]} for f in FIELDS]
    recipe = {
        "reset_on_success": proc_reset,
        "level": "B",
        "threshold_max": 2,
        "processes": {p: {"inputs": rules, "outputs": rules} for p in PROCESSES},
    }
    hook = Counter()
    auditor = Auditor(recipe, plugins=[hook])

    failures: dict[str, int] = {}  # failures recorded per key since the last reset
    model: dict[str, int] = {}  # expected counter per key
    resets = {
        f"{p}:{ph}:{f}:min": configs[f]["reset_on_success"]
        for p in PROCESSES
        for ph in ("inputs", "outputs")
        for f in FIELDS
    }
    for op in ops:
        if op[0] == "check":
            _, process, phase, passing = op
            values = {f: (1 if ok else -1) for f, ok in passing.items()}
            check = auditor.check_inputs if phase == "inputs" else auditor.check_outputs
            decision = check(process, values)
            for f, ok in passing.items():
                key = f"{process}:{phase}:{f}:min"
                if ok:
                    if resets[key]:
                        model[key] = 0
                else:
                    model[key] = model.get(key, 0) + 1
                    failures[key] = failures.get(key, 0) + 1
            assert {v.key for v in decision.violations} == {
                f"{process}:{phase}:{f}:min" for f, ok in passing.items() if not ok
            }
        elif op[0] == "fail":
            key = f"{op[1]}:error"
            auditor.record_failure(op[1], RuntimeError("x"))
            model[key] = model.get(key, 0) + 1
            failures[key] = failures.get(key, 0) + 1
        else:
            auditor.record_success(op[1])
            if proc_reset:
                model[f"{op[1]}:error"] = 0

    counts = auditor.counts()
    assert {k: v for k, v in counts.items() if v} == {k: v for k, v in model.items() if v}
    # every recorded failure reached the hook and the log exactly once
    assert hook.by_key == failures
    assert len(auditor.log) == sum(failures.values())
    # without reset_on_success a counter is exactly the number of its recorded failures
    for key, n in failures.items():
        reset = proc_reset if key.endswith(":error") else resets[key]
        if not reset:
            assert counts[key] == n


@settings(max_examples=25, deadline=None)
@given(threads=st.integers(2, 6), per_thread=st.integers(1, 200))
def test_concurrent_failures_are_all_counted(threads: int, per_thread: int) -> None:
    auditor = Auditor(
        {
            "level": "C",
            "reset_on_success": False,
            "processes": {"p": {"inputs": [{"field": "x", "min": 0}]}},
        }
    )
    barrier = threading.Barrier(threads)

    def run() -> None:
        barrier.wait()
        for i in range(per_thread):
            auditor.check_inputs("p", {"x": -1 if i % 2 == 0 else 1})
            auditor.record_failure("p", ValueError())

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    fails = threads * ((per_thread + 1) // 2)
    assert auditor.counts() == {"p:inputs:x:min": fails, "p:error": threads * per_thread}
