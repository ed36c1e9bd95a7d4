from __future__ import annotations

import logging
from typing import Any

import pluggy
import pytest
from shm_helpers import dead_pid, forge_segment, me, reclaimed_by

from theus_shm import (
    MemoryRegistry,
    SegmentInfo,
    hookimpl,
    hookspecs,
    make_plugin_manager,
    scan_zombies,
)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def theus_shm_alloc(
        self, registry: MemoryRegistry, key: str, name: str, shape: tuple[int, ...], dtype: str,
        nbytes: int,
    ) -> None:  # fmt: skip
        self.calls.append(("alloc", {"key": key, "name": name, "shape": shape, "dtype": dtype,
                                     "nbytes": nbytes, "registry": registry}))  # fmt: skip

    @hookimpl
    def theus_shm_release(self, key: str, name: str, nbytes: int) -> None:
        self.calls.append(("release", {"key": key, "name": name, "nbytes": nbytes}))

    @hookimpl
    def theus_shm_zombie_reclaimed(self, segment: SegmentInfo) -> None:
        self.calls.append(("zombie", {"name": segment.name, "pid": segment.owner_pid}))


def test_alloc_and_release_hooks(session: str) -> None:
    rec = Recorder()
    reg = MemoryRegistry(session=session, plugins=[rec], collect_zombies=False)
    assert reg.plugin_manager.is_registered(rec)
    a = reg.alloc("a", (2, 3), "int32")
    b = reg.alloc("b", 4, "float64")
    reg.release("a")
    reg.close()
    kinds = [(k, c["key"]) for k, c in rec.calls]
    assert kinds == [("alloc", "a"), ("alloc", "b"), ("release", "a"), ("release", "b")]
    first = rec.calls[0][1]
    assert first["name"] == a.shm_name and first["shape"] == (2, 3)
    assert first["dtype"] == "<i4" and first["nbytes"] == 24 and first["registry"] is reg
    assert rec.calls[3][1] == {"key": "b", "name": b.shm_name, "nbytes": 32}


def test_zombie_hook_from_registry_start_and_from_scan(session: str) -> None:
    rec = Recorder()
    owner = (dead_pid(), 1, me()[2])
    regs: list[MemoryRegistry] = []

    def start() -> list[str]:
        regs.append(MemoryRegistry(session=session, plugins=[rec]))
        return regs[-1].reclaimed

    name = reclaimed_by(start, lambda i: forge_segment(session, f"k{i}", owner=owner))
    assert ("zombie", {"name": name, "pid": owner[0]}) in rec.calls
    for r in regs:
        r.close()

    pm = make_plugin_manager([rec])
    name = reclaimed_by(
        lambda: scan_zombies(session=session, plugin_manager=pm),
        lambda i: forge_segment(session, f"z{i}", owner=owner),
    )
    assert rec.calls[-1] == ("zombie", {"name": name, "pid": owner[0]})


def test_entry_points_load_unless_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    groups: list[str] = []
    monkeypatch.setattr(
        pluggy.PluginManager, "load_setuptools_entrypoints",
        lambda self, group, name=None: groups.append(group) or 0,
    )  # fmt: skip
    monkeypatch.delenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    make_plugin_manager()
    assert groups == ["theus_shm"]
    monkeypatch.setenv("THEUS_DISABLE_PLUGIN_AUTOLOAD", "1")
    make_plugin_manager()
    assert groups == ["theus_shm"]


def test_trace_hooks_logs_calls(
    session: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("THEUS_TRACE_HOOKS", "1")
    with caplog.at_level(logging.DEBUG, logger="theus_shm.hooks"):
        reg = MemoryRegistry(session=session, collect_zombies=False)
        reg.alloc("k", 1)
        reg.close()
    assert any("theus_shm_alloc" in r.getMessage() for r in caplog.records)


def test_hookspecs_are_validated() -> None:
    class Wrong:
        @hookimpl
        def theus_shm_alloc(self, not_an_argument: int) -> None: ...

    pm = make_plugin_manager()
    with pytest.raises(pluggy.PluginValidationError):
        pm.register(Wrong())
    assert hookspecs.hookimpl is hookimpl
