"""Shared timing helpers for the benchmark scripts.

Every figure is printed as one line ``name: value unit``. Each script also prints the
plain-Python baseline it is compared with, measured in the same process and run, as
``baseline.<name>: value unit``; figures are meant to be read as ratios to it, because
the machines are shared and noisy.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

_UNITS = {"ns": 1e9, "us": 1e6, "ms": 1e3, "s": 1.0}


def per_call(
    fn: Callable[[], object], *, number: int = 0, repeat: int = 7, gc_on: bool = False
) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` rounds of ``number`` calls
    (the cyclic garbage collector is off while timing unless ``gc_on``)."""
    if number <= 0:  # calibrate: aim at ~20 ms per round
        number = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            if time.perf_counter() - t0 > 0.02:
                break
            number *= 2
    gc_was_enabled = gc.isenabled()
    if gc_on:
        gc.enable()
    else:
        gc.disable()
    try:
        rounds = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            rounds.append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
        else:
            gc.disable()
    return statistics.median(rounds)


def samples(fn: Callable[[], object], *, repeat: int = 7) -> float:
    """Median wall time in seconds of ``repeat`` single calls (for slow operations)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def report(name: str, seconds: float, unit: str = "us") -> None:
    print(f"{name}: {seconds * _UNITS[unit]:.3f} {unit}", flush=True)


def report_value(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.3f} {unit}", flush=True)


def plain_dict_call_baseline() -> float:
    """The reference cost: a plain Python function call that reads and writes a dict."""
    data = {"counter": 0}

    def step(d: dict[str, int]) -> None:
        d["counter"] = d["counter"] + 1

    return per_call(lambda: step(data))


def report_baseline() -> float:
    base = plain_dict_call_baseline()
    report("baseline.plain_dict_call", base)
    return base
