from __future__ import annotations

import multiprocessing
import os
import secrets

import pytest
from shm_helpers import (
    SHM,
    collect_session,
    dead_pid,
    exists,
    forge_segment,
    me,
    pretend_this_process_dead,
    reclaimed_by,
    run_py,
    session_segments,
    sigkilled_owner,
    start_owner,
)

from theus_shm import (
    MemoryRegistry,
    ShmUnsupported,
    _backend,
    _zombies,
    list_segments,
    scan_zombies,
    segment_name,
)


def test_sigkilled_owner_is_reclaimed_by_scan_zombies(session: str) -> None:
    reclaimed_by(
        lambda: scan_zombies(session=session),
        lambda i: sigkilled_owner(session, f"k{i}"),
    )


def test_unreaped_killed_owner_counts_as_dead(session: str) -> None:
    """A killed child its parent has not waited for yet is a zombie process (state Z)."""
    reclaimed_by(
        lambda: scan_zombies(session=session),
        lambda i: sigkilled_owner(session, f"k{i}", reap=False),
    )


def test_live_owners_are_never_reclaimed(registry: MemoryRegistry, session: str) -> None:
    mine = registry.alloc("mine", 10)
    proc, theirs = start_owner(session, "theirs")
    try:
        assert scan_zombies(session=session) == []
        scan_zombies()  # machine-wide, as a registry start-up does
        assert exists(mine.shm_name or "") and exists(theirs)
        states = {i.name: i.alive for i in list_segments(session=session)}
        assert states == {mine.shm_name: True, theirs: True}
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]
    reclaimed_by(
        lambda: scan_zombies(session=session),
        lambda i: theirs if i == 0 else sigkilled_owner(session, f"again{i}"),
    )


def test_pid_reuse_is_detected_by_start_time(session: str) -> None:
    """A live process with the recorded PID but another start time is not the owner."""
    pid, start, ns = me()  # this process is alive: only the start time can tell
    kept = forge_segment(session, "same-process", owner=(pid, start, ns))
    other_ns = forge_segment(session, "other-ns", owner=(dead_pid(), start, ns + 1))
    unknown_start = forge_segment(session, "no-start", owner=(pid, 0, ns))
    try:
        reclaimed_by(
            lambda: scan_zombies(session=session),
            lambda i: forge_segment(session, f"reused{i}", owner=(pid, start + 1 + i, ns)),
        )
        reclaimed_by(
            lambda: scan_zombies(session=session),
            lambda i: forge_segment(session, f"dead{i}", owner=(dead_pid(), start, ns)),
        )
        assert exists(kept) and exists(other_ns) and exists(unknown_start)
    finally:
        for name in (kept, other_ns, unknown_start):
            (SHM / name).unlink()


def test_foreign_files_are_never_touched(session: str) -> None:
    prefix = f"th_{session}_"
    foreign = {
        prefix + "empty": b"",
        prefix + "garbage": b"garbage" * 100,
        prefix + "nomagic": bytes(4096),  # a segment still being created looks like this
    }
    for name, content in foreign.items():
        (SHM / name).write_bytes(content)
    (SHM / (prefix + "dir")).mkdir()
    try:
        assert scan_zombies(session=session) == []
        assert list_segments(session=session) == []
        assert all(exists(n) for n in foreign)
    finally:
        for name in foreign:
            (SHM / name).unlink()
        (SHM / (prefix + "dir")).rmdir()


def test_dry_run_only_reports(session: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name = forge_segment(session, "k", owner=me())
    pretend_this_process_dead(monkeypatch)
    assert scan_zombies(session=session, dry_run=True) == [name]
    assert exists(name)
    assert scan_zombies(session=session) == [name]
    assert not exists(name)


def test_registry_start_up_collects_zombies(session: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reg: list[MemoryRegistry] = []

    def start() -> list[str]:
        reg.append(MemoryRegistry(session=session))
        return reg[-1].reclaimed

    reclaimed_by(start, lambda i: sigkilled_owner(session, f"k{i}"))
    for r in reg:
        r.close()
    name = forge_segment(session, "kept", owner=me())
    pretend_this_process_dead(monkeypatch)
    quiet = MemoryRegistry(session=session, collect_zombies=False)
    assert quiet.reclaimed == [] and exists(name)
    quiet.close()
    (SHM / name).unlink()


def test_reclaim_gives_back_a_name_taken_by_a_live_newcomer(session: str) -> None:
    """The zombie was judged dead, then its name was reclaimed and reused by a live owner
    before this collector unlinked: the live segment must survive."""
    backend = _backend.listing_backend()
    name = forge_segment(session, "k", owner=me())  # live owners: no collector interferes
    stale = _zombies.read_segment(backend, name)
    assert stale is not None
    (SHM / name).unlink()  # someone else reclaimed it ...
    forge_segment(session, "k", owner=me())  # ... and a live owner took the name
    assert _zombies.reclaim(backend, stale) is False
    current = _zombies.read_segment(backend, name)
    assert current is not None and current.nonce != stale.nonce
    assert not [n for n in os.listdir(SHM) if n.startswith(_zombies.REAP_PREFIX + "")]
    (SHM / name).unlink()


def test_a_reap_name_left_by_a_crashed_collector_is_removed(
    session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reap = _zombies.REAP_PREFIX + secrets.token_hex(6)
    forge_segment(session, "k", owner=(dead_pid(), 1, me()[2]), name=reap)
    try:
        # a fresh reap name belongs to a collector at work: left alone
        assert scan_zombies(session=session) == [] and exists(reap)
        monkeypatch.setattr(_zombies, "REAP_GRACE", -1.0)  # now it is "old"
        assert reap in scan_zombies(session=session) or not exists(reap)
        assert not exists(reap)
    finally:
        (SHM / reap).unlink(missing_ok=True)


def test_concurrent_collectors_reclaim_each_zombie_once(session: str) -> None:
    owner = (dead_pid(), 1, me()[2])
    names = {forge_segment(session, f"k{i}", owner=owner) for i in range(200)}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        results = pool.map(collect_session, [session] * 3)
    seen = [n for r in results for n in r]
    assert len(seen) == len(set(seen))  # nobody reclaimed a segment twice
    assert set(seen) <= names and not session_segments(session)


def test_listing_needs_dev_shm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_backend, "BACKEND", _backend.PosixShmBackend())
    with pytest.raises(ShmUnsupported, match="Linux"):
        scan_zombies()
    with pytest.raises(ShmUnsupported):
        list_segments()
    reg = MemoryRegistry()  # start-up collection is skipped, not fatal
    assert reg.reclaimed == []
    reg.close()


def test_list_segments_reports_owner_size_age(registry: MemoryRegistry, session: str) -> None:
    arr = registry.alloc("weights", (1000,), "float64")
    name = forge_segment(session, "dead", owner=(dead_pid(), 1, me()[2]))
    try:
        infos = {i.name: i for i in list_segments(session=session)}
        live = infos[arr.shm_name or ""]
        assert live.owner_pid == os.getpid() and live.alive is True
        assert live.key == "weights" and live.session == session
        assert live.nbytes == 8000 and live.size >= 8000 and live.shape == (1000,)
        assert 0 <= live.age < 60
        if name in infos:  # unless a concurrent collector got there first
            assert infos[name].alive is False
    finally:
        (SHM / name).unlink(missing_ok=True)
    assert segment_name(session, os.getpid(), "weights") == arr.shm_name


def test_cli_gc_reclaims_a_sigkilled_owner(session: str) -> None:
    def gc() -> str:
        result = run_py("from theus_shm._cli import main; main()", "gc", "--session", session)
        assert result.returncode == 0, result.stderr
        return result.stdout

    name = reclaimed_by(gc, lambda i: sigkilled_owner(session, f"k{i}"))
    assert name.startswith(f"th_{session}_")


def test_cli_module_gc_and_ls(session: str) -> None:
    import subprocess
    import sys

    def gc() -> list[str]:
        out = subprocess.run(
            [sys.executable, "-m", "theus_shm", "gc", "--session", session],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return out.stdout.split()

    def zombie(i: int) -> str:
        name = sigkilled_owner(session, f"k{i}")
        ls = subprocess.run(
            [sys.executable, "-m", "theus_shm", "ls", "--session", session],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        lines = ls.stdout.splitlines()
        assert lines[0].split()[:5] == ["NAME", "PID", "SIZE", "STATE", "AGE"]
        rows = [line.split() for line in lines[1:]]
        assert all(r[3] == "dead" for r in rows if r[0] == name)
        return name

    reclaimed_by(gc, zombie)
