"""AuditLog: ring buffer wrap, since(), gap detection under concurrent writers, JSON lines."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import orjson
import pytest

from theus_audit import AuditLevel, AuditLog, Auditor, AuditRecord


def test_append_returns_consecutive_seqs_and_iterates_oldest_first() -> None:
    log = AuditLog(capacity=3)
    assert (len(log), log.last_seq, log.first_seq, log.dropped) == (0, 0, 1, 0)
    assert log.since() == []
    assert [log.append(f"k{i}", "C", f"m{i}") for i in range(1, 3)] == [1, 2]
    assert [r.seq for r in log] == [1, 2]
    rec = log.since()[0]
    assert isinstance(rec, AuditRecord)
    assert (rec.seq, rec.key, rec.level, rec.message) == (1, "k1", "C", "m1")
    assert rec.ts > 0


def test_wrap_keeps_the_newest_capacity_records() -> None:
    log = AuditLog(capacity=4)
    for i in range(1, 11):
        log.append("k", AuditLevel.B, str(i))
    assert len(log) == 4
    assert [r.seq for r in log] == [7, 8, 9, 10]
    assert [r.message for r in log] == ["7", "8", "9", "10"]
    assert (log.first_seq, log.last_seq, log.dropped) == (7, 10, 6)
    assert [r.level for r in log] == ["B"] * 4
    assert [r.seq for r in log.since(8)] == [9, 10]
    assert log.since(10) == []
    assert log.since(99) == []


def test_reader_detects_a_gap_by_seq() -> None:
    log = AuditLog(capacity=5)
    for _ in range(3):
        log.append("k", "C", "m")
    seen = log.since(0)[-1].seq  # reader caught up at 3
    for _ in range(8):  # 8 more: seqs 4..11, only 7..11 kept
        log.append("k", "C", "m")
    batch = log.since(seen)
    missed = batch[0].seq - seen - 1
    assert missed == 3  # 4, 5, 6 were overwritten unread
    assert [r.seq for r in batch] == [7, 8, 9, 10, 11]


@pytest.mark.parametrize("capacity", [0, -1, 1.5, True, "10"])
def test_bad_capacity(capacity: object) -> None:
    with pytest.raises(ValueError, match="capacity"):
        AuditLog(capacity)  # type: ignore[arg-type]


def test_four_writer_threads_with_a_reader_wrap_and_gap_accounting() -> None:
    writers, per_writer, capacity = 4, 5000, 64
    log = AuditLog(capacity=capacity)
    start = threading.Barrier(writers + 1)
    done = threading.Event()
    returned: list[list[int]] = [[] for _ in range(writers)]
    read: list[int] = []
    missed = 0

    def write(w: int) -> None:
        start.wait()
        for i in range(per_writer):
            returned[w].append(log.append(f"w{w}", "C", str(i)))

    def reader() -> None:
        nonlocal missed
        last = 0
        start.wait()
        while True:
            finished = done.is_set()
            batch = log.since(last)
            for rec in batch:
                if rec.seq != last + 1:
                    missed += rec.seq - last - 1  # a gap: records overwritten before reading
                read.append(rec.seq)
                last = rec.seq
            if finished and not batch:
                break

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    rthread = threading.Thread(target=reader)
    for t in (*threads, rthread):
        t.start()
    for t in threads:
        t.join()
    done.set()
    rthread.join()

    total = writers * per_writer
    # every append got a unique seq, and the seqs are exactly 1..total
    all_seqs = sorted(s for seqs in returned for s in seqs)
    assert all_seqs == list(range(1, total + 1))
    for seqs in returned:  # each writer sees its own seqs increase
        assert seqs == sorted(seqs)
    # the buffer holds the newest `capacity` records, contiguous
    assert [r.seq for r in log] == list(range(total - capacity + 1, total + 1))
    assert log.dropped == total - capacity
    # the reader saw increasing seqs, and what it saw plus what it missed is everything
    assert read == sorted(read) and len(set(read)) == len(read)
    assert len(read) + missed == total
    # records read back carry their writer's data consistently
    for rec in log:
        w = int(rec.key[1:])
        assert returned[w][int(rec.message)] == rec.seq


def test_json_lines_export(tmp_path: Path) -> None:
    log = AuditLog(capacity=10)
    log.append("p:inputs:x:min", AuditLevel.B, 'warn: -1 < min 0 "quoted" é')
    log.append("p:error", "A", "abort: ValueError: x")
    lines = log.to_jsonl().splitlines()
    assert len(lines) == 2
    first = orjson.loads(lines[0])
    assert set(first) == {"seq", "ts", "key", "level", "message"}
    assert (first["seq"], first["key"], first["level"]) == (1, "p:inputs:x:min", "B")
    assert first["message"] == 'warn: -1 < min 0 "quoted" é'
    assert log.to_jsonl(since=1).count(b"\n") == 1
    path = tmp_path / "audit.jsonl"
    assert log.export_jsonl(path) == 2
    assert path.read_bytes() == log.to_jsonl()
    buf = io.BytesIO()
    assert log.export_jsonl(buf, since=1) == 1
    assert orjson.loads(buf.getvalue())["seq"] == 2
    assert AuditLog().to_jsonl() == b""


def test_auditor_writes_violations_to_its_log() -> None:
    log = AuditLog(capacity=2)
    a = Auditor({"level": "C", "processes": {"p": {"inputs": [{"field": "x", "min": 0}]}}}, log=log)
    assert a.log is log
    for v in (-1, 1, -2, -3):
        a.check_inputs("p", {"x": v})
    a.record_failure("p", KeyError("gone"))
    assert [(r.seq, r.key, r.level, r.message) for r in log] == [
        (3, "p:inputs:x:min", "C", "warn: -3 < min 0 (count 2)"),
        (4, "p:error", "C", "warn: KeyError: 'gone' (count 1)"),
    ]
    assert len(Auditor().log) == 0
    assert repr(log) == "AuditLog(capacity=2, len=2, last_seq=4)"
