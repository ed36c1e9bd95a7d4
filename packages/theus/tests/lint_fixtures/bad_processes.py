"""Seeded POP violations for `theus check` (tests/test_lint.py). Every line that must be
reported ends with `# expect: CODE`; no other line may be reported. Never imported."""

# ruff: noqa
import subprocess
import time as clock
from pathlib import Path
from time import sleep

import requests

import theus
from theus import SemanticType, process


@process(inputs=["domain.items"], outputs=["domain.total"])
def undeclared_read(ctx):
    total = sum(ctx.domain.items)
    bonus = ctx.domain.bonus  # expect: TH001
    rate = ctx.global_.config.rate  # expect: TH001
    return total + bonus * rate


@process(inputs=["domain.items"], outputs=["domain.total"])
def undeclared_write(ctx):
    ctx.domain.total = len(ctx.domain.items)
    ctx.domain.count = 1  # expect: TH002
    ctx.domain["other"] = 2  # expect: TH002
    del ctx.domain.stale  # expect: TH002


@process(inputs=["domain.items", "domain.user"], outputs=["domain.items_out"])
def mutates_inputs(ctx):
    ctx.domain.items.append(4)  # expect: TH003
    items = ctx.domain.items
    items.sort()  # expect: TH003
    ctx.domain.user["name"] = "x"  # expect: TH003
    ctx.domain.items[0] = 1  # expect: TH003
    ctx.domain.user.update({"a": 1})  # expect: TH003
    return list(items)


@process(inputs=["domain.text"], semantic=SemanticType.PURE)
def pure_with_io(ctx):
    print(ctx.domain.text)  # expect: TH004
    with open("/tmp/x") as fh:  # expect: TH004
        fh.read()
    requests.get("http://example.com")  # expect: TH004
    subprocess.run(["ls"])  # expect: TH004
    clock.sleep(1)  # expect: TH004
    sleep(1)  # expect: TH004
    Path("x").write_text("y")  # expect: TH004


@theus.process(inputs=["domain.a"], semantic="pure")
def pure_writes(ctx):
    ctx.domain.a = 1  # expect: TH002


@process
def bare_decorator(ctx):
    return ctx.domain.anything  # expect: TH001


@process(inputs=["domain.orders.*"], outputs=["domain.report.*"])
def globs(ctx):
    first = ctx.domain.orders.first
    ctx.domain.report.summary = first
    ctx.domain.summary = first  # expect: TH002


@process(inputs=["domain.heavy_in"], outputs=["domain.heavy_out"])
def heavy_arrays(ctx):
    ctx.domain.heavy_out[0] = 1.0
    out = ctx.domain.heavy_out
    out.fill(0.0)
    ctx.domain.heavy_in[0] = 1.0  # expect: TH003
    ctx.domain.heavy_in.fill(2.0)  # expect: TH003
    total = ctx.heavy["domain.heavy_in"].sum()
    other = ctx.heavy["domain.heavy_other"]  # expect: TH001
    ctx.heavy["domain.heavy_in"][0] = 1.0  # expect: TH003
    return total + other.sum() + ctx.heavy.heavy_in.sum()


async def not_a_process(ctx):
    print(ctx.domain.whatever)
    ctx.domain.items.append(1)


@process(inputs=["domain.n"], outputs=["domain.n"])
def effect_may_do_io(ctx):
    print("EFFECT processes may do I/O")
    clock.sleep(0)
    return ctx.domain.n + 1
