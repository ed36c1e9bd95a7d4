"""Queue subscriptions and callback handles of a SignalHub.

Rules / theory of operation (see also ``_hub.py``):

* A subscription's state (queue, ``_missed``, ``_closed``, waiter counts) is guarded by its
  hub's single lock; ``_cond`` is a Condition on that same lock.
* Receive order: a pending lag report (``Lagged``) first, then the oldest queued message,
  then ``Closed`` once closed and drained; otherwise "empty" (``try_recv`` returns None,
  ``recv`` / ``arecv`` park).
* Parking: a sync receiver waits on ``_cond`` (``_nsync`` counts them); an async receiver
  parks a Future of its own loop in ``_afutures``. ``_waiting`` is their total, the one
  number a publisher tests. A publisher resolves every parked Future once, through
  ``loop.call_soon_threadsafe``, and forgets it: there is one cross-thread hop per park,
  never one per message; a woken receiver drains the queue before it parks again.
* ``close()`` sets ``_limit = 0``: a publisher holding a stale route then takes its slow
  path, which skips closed subscriptions, so the fast path never tests ``_closed``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._message import Message
from ._patterns import Matcher
from .exceptions import Closed, Lagged

if TYPE_CHECKING:
    from ._hub import SignalHub

__all__ = ["CallbackHandle", "Subscription"]


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Subscription:
    """A bounded queue of the messages whose topic matches ``pattern``.

    Created by :meth:`SignalHub.subscribe`. Receive with :meth:`recv`, :meth:`try_recv`,
    ``await`` :meth:`arecv`, ``for msg in sub`` or ``async for msg in sub``; iteration ends
    once the subscription (or its hub) is closed and every queued message was received.
    A ``Lagged`` error raised by a receive (or by iteration) does not end the stream: the
    next receive continues with the oldest retained message.
    """

    __slots__ = (
        "__weakref__",
        "_afutures",
        "_capacity",
        "_closed",
        "_cond",
        "_hub",
        "_limit",
        "_lock",
        "_match",
        "_missed",
        "_nsync",
        "_overflow",
        "_pattern",
        "_queue",
        "_waiting",
    )

    def __init__(
        self, hub: SignalHub, pattern: str, match: Matcher, capacity: int, overflow: str
    ) -> None:
        self._hub = hub
        self._lock: threading.Lock = hub._lock
        self._cond = threading.Condition(self._lock)
        self._pattern = pattern
        self._match = match
        self._capacity = capacity
        self._limit = capacity
        self._overflow = overflow
        self._queue: deque[Message] = deque()
        self._missed = 0
        self._closed = False
        self._nsync = 0
        self._waiting = 0
        self._afutures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # -- public read-only view -------------------------------------------------------------
    @property
    def pattern(self) -> str:
        return self._pattern

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def overflow(self) -> str:
        return self._overflow

    @property
    def closed(self) -> bool:
        """True once :meth:`close` (or the hub's close) was called; queued messages may
        still be received."""
        return self._closed

    def __len__(self) -> int:
        """Number of queued messages."""
        return len(self._queue)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<Subscription {self._pattern!r} {state} queued={len(self._queue)}"
            f" capacity={self._capacity} overflow={self._overflow!r}>"
        )

    # -- receiving -------------------------------------------------------------------------
    def _take_locked(self) -> Message | None:
        if self._missed:
            missed, self._missed = self._missed, 0
            raise Lagged(missed, self._pattern)
        queue = self._queue
        if queue:
            message = queue.popleft()
            if self._hub._nblocked:
                self._hub._space.notify_all()
            return message
        if self._closed:
            raise Closed(self._pattern)
        return None

    def try_recv(self) -> Message | None:
        """The next message, or None when none is queued.

        Raises :class:`Lagged` after dropped messages and :class:`Closed` once closed and
        drained.
        """
        lock = self._lock
        lock.acquire()
        try:
            if not self._missed:
                queue = self._queue
                if queue:
                    message = queue.popleft()
                    if self._hub._nblocked:
                        self._hub._space.notify_all()
                    return message
            return self._take_locked()
        finally:
            lock.release()

    def recv(self, timeout: float | None = None) -> Message:
        """The next message, waiting up to ``timeout`` seconds (None: forever).

        Raises ``TimeoutError`` on expiry, :class:`Lagged` after dropped messages and
        :class:`Closed` once closed and drained.
        """
        message = self.try_recv()
        if message is not None:
            return message
        if timeout is not None and not timeout >= 0:
            raise ValueError(f"timeout must be None or >= 0, not {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        lock = self._lock
        lock.acquire()
        try:
            while True:
                message = self._take_locked()
                if message is not None:
                    return message
                remaining = None
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(
                            f"no message on subscription {self._pattern!r} within {timeout:g} s"
                        )
                self._nsync += 1
                self._waiting += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._nsync -= 1
                    self._waiting -= 1
        finally:
            lock.release()

    async def arecv(self) -> Message:
        """Await the next message (no thread hop when one is already queued).

        Raises :class:`Lagged` after dropped messages and :class:`Closed` once closed and
        drained. Cancelling the await loses no message.
        """
        message = self.try_recv()
        if message is not None:
            return message
        loop = asyncio.get_running_loop()
        lock = self._lock
        while True:
            fut: asyncio.Future[None] = loop.create_future()
            entry = (loop, fut)
            lock.acquire()
            try:
                message = self._take_locked()
                if message is not None:
                    return message
                self._afutures.append(entry)
                self._waiting += 1
            finally:
                lock.release()
            try:
                await fut
            except BaseException:
                lock.acquire()
                try:
                    if entry in self._afutures:
                        self._afutures.remove(entry)
                        self._waiting -= 1
                finally:
                    lock.release()
                raise

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Message:
        try:
            return self.recv()
        except Closed:
            raise StopIteration from None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.arecv()
        except Closed:
            raise StopAsyncIteration from None

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop receiving new messages; queued ones can still be received, then receives
        raise :class:`Closed` and iteration ends. Idempotent."""
        self._hub._detach(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- called by the hub, under its lock -------------------------------------------------
    def _wake(self) -> None:
        if self._nsync:
            self._cond.notify()
        futures = self._afutures
        if futures:
            self._afutures = []
            self._waiting = self._nsync
            for loop, fut in futures:
                try:
                    loop.call_soon_threadsafe(_resolve, fut)
                except RuntimeError:  # its loop is closed: nobody is waiting any more
                    pass

    def _close_locked(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._limit = 0
        if self._nsync:
            self._cond.notify_all()
        self._wake()


class CallbackHandle:
    """Returned by :meth:`SignalHub.on`: call it to unsubscribe (idempotent)."""

    __slots__ = ("_active", "_hub", "_match", "callback", "pattern")

    def __init__(
        self,
        hub: SignalHub,
        pattern: str,
        callback: Callable[[Message], object],
        match: Matcher,
    ) -> None:
        self._hub = hub
        self.pattern = pattern
        self.callback = callback
        self._match = match
        self._active = True

    @property
    def active(self) -> bool:
        return self._active

    def __call__(self) -> None:
        self._hub._remove_handle(self)

    def __repr__(self) -> str:
        state = "active" if self._active else "removed"
        return f"<CallbackHandle {self.pattern!r} -> {self.callback!r} {state}>"
