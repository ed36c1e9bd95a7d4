"""Conflict policy: exponential backoff with jitter and a VIP ticket against starvation.

Rules / theory of operation:
- Each requester key has a count of *consecutive* conflicts. ``report_conflict(key)``
  increments it and returns a :class:`RetryDecision` whose wait is
  ``base * 2**(n-1) * uniform(0.8, 1.2)`` (capped at ``max_backoff``);
  ``report_success(key)`` resets it.
- When a key's count reaches ``max_retries`` and no live ticket exists, the key receives
  the VIP ticket (``manager.vip``). The VIP retries at once (wait 0).
- While a ticket is held, every other requester calls ``wait_turn(key)`` before it
  commits and blocks until the ticket is released -- or at most ``vip_wait`` seconds, so
  nobody waits unboundedly. The VIP itself never waits.
- ``report_success`` by the VIP releases the ticket and wakes the waiters. A ticket also
  lapses ``vip_ttl`` seconds after it was granted, so a VIP that vanished (its thread died,
  it gave up) cannot stall the others; the next starving requester may then take it.
- All state is guarded by one condition variable; the hot path of a requester that never
  conflicted (``report_success`` with no count, ``wait_turn`` with no ticket) takes no lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

__all__ = ["ConflictManager", "RetryDecision"]


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What a requester should do after a conflict."""

    should_retry: bool
    wait_s: float
    vip: bool = False


class ConflictManager:
    def __init__(
        self,
        max_retries: int = 5,
        base_backoff: float = 0.002,
        *,
        max_backoff: float = 0.25,
        vip_wait: float = 1.0,
        vip_ttl: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        if max_retries < 1:
            raise ValueError(f"max_retries must be >= 1, got {max_retries}")
        if base_backoff < 0 or max_backoff < 0 or vip_wait < 0 or vip_ttl <= 0:
            raise ValueError("backoff, vip_wait and vip_ttl must be non-negative")
        self.max_retries = max_retries
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.vip_wait = vip_wait
        self.vip_ttl = vip_ttl
        self._rng = rng or random.Random()
        self._cond = threading.Condition(threading.Lock())
        self._counts: dict[Hashable, int] = {}
        self._vip: Any = None
        self._vip_until = 0.0

    @property
    def vip(self) -> Any:
        """The key currently holding the VIP ticket, or None."""
        vip = self._vip
        if vip is not None and time.monotonic() >= self._vip_until:
            return None
        return vip

    def consecutive(self, key: Hashable) -> int:
        """Consecutive conflicts recorded for ``key``."""
        return self._counts.get(key, 0)

    def report_conflict(self, key: Hashable) -> RetryDecision:
        with self._cond:
            n = self._counts.get(key, 0) + 1
            self._counts[key] = n
            now = time.monotonic()
            if self._vip is not None and now >= self._vip_until:
                self._vip = None  # lapsed ticket
                self._cond.notify_all()
            if self._vip is None and n >= self.max_retries:
                self._vip = key
                self._vip_until = now + self.vip_ttl
            if self._vip == key:
                return RetryDecision(True, 0.0, True)
            exp = min(n, self.max_retries + 8) - 1
            wait = min(self.max_backoff, self.base_backoff * 2**exp)
            return RetryDecision(True, wait * self._rng.uniform(0.8, 1.2), False)

    def report_success(self, key: Hashable) -> None:
        if key not in self._counts and self._vip != key:
            return
        with self._cond:
            self._counts.pop(key, None)
            if self._vip == key:
                self._vip = None
                self._cond.notify_all()

    def wait_turn(self, key: Hashable, timeout: float | None = None) -> float:
        """Block while another requester holds the ticket (at most ``timeout``, default
        ``vip_wait`` seconds). Returns the seconds waited."""
        vip = self._vip
        if vip is None or vip == key:
            return 0.0
        limit = self.vip_wait if timeout is None else timeout
        start = time.monotonic()
        deadline = start + limit
        with self._cond:
            while True:
                vip = self._vip
                now = time.monotonic()
                if vip is None or vip == key or now >= self._vip_until or now >= deadline:
                    break
                self._cond.wait(min(deadline, self._vip_until) - now)
        return time.monotonic() - start

    def reset(self) -> None:
        """Forget every count and release the ticket."""
        with self._cond:
            self._counts.clear()
            self._vip = None
            self._cond.notify_all()
