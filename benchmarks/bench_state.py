"""theus-state figures (issue 2). Each line: ``name: value unit``; baselines from this run."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import _timing as t

from theus_state import Store


def _store(n: int) -> Store:
    return Store({"domain": {f"k{i}": i for i in range(n)}, "global": {"rate": 1}})


def main() -> None:
    base = t.report_baseline()

    s1k = _store(1_000)

    def cas() -> None:
        s1k.compare_and_swap(s1k.state.version, {"domain.k500": 1})

    cas_1k = t.per_call(cas)
    t.report("state.cas_1path_1k_keys", cas_1k)

    def tx_rw() -> None:
        with s1k.transaction() as tx:
            tx.set("domain.k10", tx.get("domain.k10") + 1)

    tx_1k = t.per_call(tx_rw)
    t.report("state.tx_1read_1write_commit_1k_keys", tx_1k)

    s100k = _store(100_000)

    def tx_rw_big() -> None:
        with s100k.transaction() as tx:
            tx.set("domain.k10", tx.get("domain.k10") + 1)

    tx_100k = t.per_call(tx_rw_big)
    t.report("state.tx_1read_1write_commit_100k_keys", tx_100k)
    t.report_value("state.commit_ratio_100k_vs_1k", tx_100k / tx_1k, "x")

    snap = s1k.state

    def read() -> object:
        return snap.get("domain.k10")

    rd = t.per_call(read)
    t.report("state.snapshot_read_path", rd)
    t.report_value("state.tx_vs_baseline", tx_1k / base, "x")


if __name__ == "__main__":
    main()
