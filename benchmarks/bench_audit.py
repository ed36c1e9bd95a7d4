"""theus-audit figures: the per-process checks an engine makes on every run.

    python benchmarks/bench_audit.py

Target (issue 4): a recipe with 3 rules on one process checks in <= 2 us median on
Python 3.11. The same-run baseline is a plain function doing the same 3 comparisons inline.
"""

from __future__ import annotations

import warnings
from typing import Any

from _timing import per_call, report, report_baseline, report_value

from theus_audit import AuditLog, Auditor

RECIPE = {
    "level": "C",
    "processes": {
        "transfer": {
            "inputs": [
                {"field": "amount", "min": 0, "level": "B", "threshold_max": 3},
                {"field": "currency", "in": ["EUR", "USD", "GBP"], "level": "A"},
                {"field": "note", "max_len": 140},
            ]
        }
    },
}
GOOD = {"amount": 120, "currency": "EUR", "note": "rent"}
ONE_BAD = {"amount": 120, "currency": "EUR", "note": "x" * 200}  # C rule fails: warn


def inline_checks(values: dict[str, Any]) -> bool:
    amount, currency, note = values["amount"], values["currency"], values["note"]
    return amount >= 0 and currency in {"EUR", "USD", "GBP"} and len(note) <= 140


def main() -> None:
    report_baseline()
    base = per_call(lambda: inline_checks(GOOD))
    report("baseline.inline_3_comparisons", base)

    auditor = Auditor(RECIPE)
    check = auditor.check_inputs
    assert check("transfer", GOOD).action == "allow"
    assert check("other", GOOD).action == "allow"

    fast = per_call(lambda: check("other", GOOD))
    report("audit.check_inputs.no_rules", fast)
    three = per_call(lambda: check("transfer", GOOD))
    report("audit.check_inputs.3_rules", three)
    report_value("audit.check_inputs.3_rules.vs_inline", three / base, "x")
    report_value("audit.check_inputs.3_rules.within_2us", float(three <= 2e-6), "bool")

    record_success = auditor.record_success
    report("audit.record_success", per_call(lambda: record_success("transfer")))

    # failure path: one C rule fails (counter, Violation, log record, hook call)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        failing = Auditor(RECIPE)
        report(
            "audit.check_inputs.3_rules_one_failing",
            per_call(lambda: failing.check_inputs("transfer", ONE_BAD)),
        )

    log = AuditLog(capacity=1000)
    report(
        "audit.log.append", per_call(lambda: log.append("p:inputs:x:min", "C", "warn: -1 < min 0"))
    )
    report("audit.log.to_jsonl_1000", per_call(log.to_jsonl, repeat=5), "ms")


if __name__ == "__main__":
    main()
