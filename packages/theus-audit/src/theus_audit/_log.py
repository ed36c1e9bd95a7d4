"""AuditLog: a bounded, thread-safe ring buffer of audit records.

Theory of operation: records get consecutive sequence numbers starting at 1. The buffer
keeps the newest ``capacity`` of them in a fixed list indexed by ``seq % capacity``; an
append overwrites the oldest. A reader remembers the last seq it saw and calls
``since(seq)``: if the first record returned has a seq greater than ``seq + 1``, the
records in between were overwritten before it read them (a gap of ``first.seq - seq - 1``).
One lock guards the slot list and the counter; readers copy under it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import IO, NamedTuple

__all__ = ["AuditLog", "AuditRecord"]


class AuditRecord(NamedTuple):
    seq: int
    ts: float
    key: str
    level: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "key": self.key,
            "level": self.level,
            "message": self.message,
        }


class AuditLog:
    """``AuditLog(capacity=1000)``: keeps the newest ``capacity`` records."""

    def __init__(self, capacity: int = 1000) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        self._capacity = capacity
        self._slots: list[AuditRecord | None] = [None] * capacity
        self._last = 0  # seq of the newest record, 0 when empty
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def last_seq(self) -> int:
        """Seq of the newest record (0 if nothing was ever appended)."""
        return self._last

    @property
    def first_seq(self) -> int:
        """Seq of the oldest record still held (``last_seq + 1`` when empty)."""
        with self._lock:
            return self._first()

    @property
    def dropped(self) -> int:
        """How many records were overwritten since creation."""
        return max(0, self._last - self._capacity)

    def _first(self) -> int:
        return max(1, self._last - self._capacity + 1) if self._last else 1

    def append(self, key: str, level: str, message: str) -> int:
        """Add a record; returns its seq."""
        with self._lock:
            seq = self._last + 1
            self._slots[seq % self._capacity] = AuditRecord(
                seq, time.time(), str(key), str(level), str(message)
            )
            self._last = seq
        return seq

    def since(self, seq: int = 0) -> list[AuditRecord]:
        """Records with a seq greater than ``seq``, oldest first (only those still held)."""
        with self._lock:
            start = max(seq + 1, self._first())
            slots, cap = self._slots, self._capacity
            out = [slots[s % cap] for s in range(start, self._last + 1)]
        return out  # type: ignore[return-value]  # every slot in range is filled

    def __len__(self) -> int:
        return min(self._last, self._capacity)

    def __iter__(self) -> Iterator[AuditRecord]:
        return iter(self.since(0))

    def __repr__(self) -> str:
        return f"AuditLog(capacity={self._capacity}, len={len(self)}, last_seq={self._last})"

    def to_jsonl(self, since: int = 0) -> bytes:
        """The records after ``since`` as JSON lines (one object per line, orjson)."""
        import orjson  # lazily: orjson cannot load in a sub-interpreter

        dumps, opt = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        return b"".join(dumps(r.to_dict(), option=opt) for r in self.since(since))

    def export_jsonl(self, target: str | os.PathLike[str] | IO[bytes], since: int = 0) -> int:
        """Write the records after ``since`` as JSON lines to a path (created or
        truncated) or a binary file object; returns the number of records written."""
        records = self.since(since)
        import orjson  # lazily: orjson cannot load in a sub-interpreter

        dumps, opt = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        data = b"".join(dumps(r.to_dict(), option=opt) for r in records)
        if isinstance(target, (str, os.PathLike)):
            with open(target, "wb") as fh:
                fh.write(data)
        else:
            target.write(data)
        return len(records)
