"""Relay: at-least-once delivery of pending outbox messages to a sink.

Rules / theory of operation:

* A pass (``run_once`` / ``arun_once``) reads up to ``batch`` pending messages, oldest
  first, skipping topics that are "held" (their oldest message failed and its retry is not
  due yet). It calls ``sink(message)`` in order; the first failure of a topic holds that
  topic for the rest of the pass and until ``retry.delay(attempt)`` has elapsed, so a
  failing message holds back later messages of its own topic only: order per topic is the
  append order.
* Keys are marked delivered once the pass ends (also when it ends early through ``stop()``
  or an exception), never before the sink returned: a crash between the sink call and the
  mark redelivers (at least once), and nothing is marked that the sink did not accept.
* One pass at a time per relay (a lock); the background thread (``start``) and the asyncio
  task (``astart``) loop over passes, sleeping up to ``poll_interval`` (less when a held
  topic becomes due) when a pass found less than a full batch; ``wake()`` cuts the sleep
  short. ``stop()`` lets the current sink call finish, marks what was delivered, and ends.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ._hub import SignalHub
from ._outbox import OutboxMessage, OutboxStore, check_limit
from ._plugins import SignalsPluginManager, make_plugin_manager

__all__ = ["HubSink", "Relay", "RetryPolicy"]

log = logging.getLogger("theus_signals.relay")

Sink = Callable[[OutboxMessage], object]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``delay(n) = min(max_delay, initial * factor**(n-1))``, times
    a random factor in ``[1 - jitter, 1 + jitter]``. Retries never stop (at-least-once)."""

    initial: float = 0.1
    factor: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if not self.initial >= 0:
            raise ValueError(f"initial must be >= 0, not {self.initial!r}")
        if not self.factor >= 1:
            raise ValueError(f"factor must be >= 1, not {self.factor!r}")
        if not self.max_delay >= self.initial:
            raise ValueError(f"max_delay must be >= initial, not {self.max_delay!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), not {self.jitter!r}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failure (1-based)."""
        try:
            base = min(self.max_delay, self.initial * self.factor ** max(0, attempt - 1))
        except OverflowError:  # thousands of attempts: long past max_delay
            base = self.max_delay
        if self.jitter:
            base *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return min(base, self.max_delay)


class HubSink:
    """A sink that publishes each message's payload on its topic into a SignalHub.

    A publish that raises (hub closed, ``Overflow``) is a delivery failure: retried.
    """

    def __init__(self, hub: SignalHub) -> None:
        self.hub = hub

    def __call__(self, message: OutboxMessage) -> None:
        self.hub.publish(message.topic, message.payload)

    def __repr__(self) -> str:
        return f"HubSink({self.hub!r})"


class Relay:
    """Delivers the pending messages of ``store`` to ``sink(message)``, at least once, in
    append order per topic, retrying failures with exponential backoff (``retry``).

    ``sink`` may return an awaitable only under :meth:`arun_once` / :meth:`astart`.
    """

    def __init__(
        self,
        store: OutboxStore,
        sink: Sink,
        *,
        batch: int = 100,
        retry: RetryPolicy | None = None,
        poll_interval: float = 0.05,
        plugins: Iterable[object] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not callable(sink):
            raise TypeError(f"sink must be callable, not {type(sink).__name__}")
        if not poll_interval > 0:
            raise ValueError(f"poll_interval must be > 0, not {poll_interval!r}")
        self._store = store
        self._sink = sink
        self._batch = check_limit(batch)
        self._retry = RetryPolicy() if retry is None else retry
        self._poll = poll_interval
        self._clock = clock
        self._pm = make_plugin_manager(plugins)
        self._attempts: dict[str, int] = {}
        self._held: dict[str, float] = {}  # topic -> monotonic time its retry is due
        self._pass_lock = threading.Lock()
        self._event = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def plugin_manager(self) -> SignalsPluginManager:
        return self._pm

    @property
    def store(self) -> OutboxStore:
        return self._store

    @property
    def running(self) -> bool:
        thread_alive = self._thread is not None and self._thread.is_alive()
        return thread_alive or (self._task is not None and not self._task.done())

    def __repr__(self) -> str:
        return f"<Relay store={self._store!r} sink={self._sink!r} running={self.running}>"

    # -- one pass --------------------------------------------------------------------------
    def _fetch(self) -> list[OutboxMessage]:
        now = self._clock()
        held = [topic for topic, due in self._held.items() if due > now]
        return self._store.pending(self._batch, exclude_topics=held)

    def _failed(self, message: OutboxMessage, exc: Exception) -> None:
        attempt = self._attempts.get(message.key, 0) + 1
        self._attempts[message.key] = attempt
        retry_in = self._retry.delay(attempt)
        self._held[message.topic] = self._clock() + retry_in
        log.warning(
            "outbox delivery of %r (topic %r) failed on attempt %d, retry in %.3f s: %r",
            message.key,
            message.topic,
            attempt,
            retry_in,
            exc,
        )
        hook = self._pm.hook.signals_delivery_failure
        if hook.get_hookimpls():
            hook(relay=self, message=message, error=exc, attempt=attempt, retry_in=retry_in)

    def _delivered(self, done: list[OutboxMessage]) -> None:
        if not done:
            return
        self._store.mark_delivered([m.key for m in done])
        self._settle(done)

    def _settle(self, done: list[OutboxMessage]) -> None:
        for message in done:
            self._attempts.pop(message.key, None)
            self._held.pop(message.topic, None)
        hook = self._pm.hook.signals_deliver
        if hook.get_hookimpls():
            for message in done:
                hook(relay=self, message=message)

    def run_once(self) -> int:
        """One delivery pass; returns how many messages were delivered."""
        with self._pass_lock:
            batch = self._fetch()
            done: list[OutboxMessage] = []
            failed: set[str] = set()
            sink = self._sink
            try:
                for message in batch:
                    if self._stopping:
                        break
                    if message.topic in failed:
                        continue
                    try:
                        result = sink(message)
                        if inspect.isawaitable(result):
                            _discard_awaitable(result)
                            raise TypeError(
                                "the sink returned an awaitable: use arun_once() / astart()"
                            )
                    except Exception as exc:  # noqa: BLE001 - a failed delivery (logged)
                        failed.add(message.topic)
                        self._failed(message, exc)
                        continue
                    done.append(message)
            finally:
                self._delivered(done)
                self._end_pass()
            return len(done)

    async def arun_once(self) -> int:
        """One delivery pass in asyncio: store I/O runs in a worker thread, an awaitable
        returned by the sink is awaited. Returns how many messages were delivered."""
        while not self._pass_lock.acquire(blocking=False):
            await asyncio.sleep(self._poll / 10)
        try:
            batch = await asyncio.to_thread(self._fetch)
            done: list[OutboxMessage] = []
            failed: set[str] = set()
            sink = self._sink
            try:
                for message in batch:
                    if self._stopping:
                        break
                    if message.topic in failed:
                        continue
                    try:
                        result = sink(message)
                        if inspect.isawaitable(result):
                            await result
                    except Exception as exc:  # noqa: BLE001 - a failed delivery (logged)
                        failed.add(message.topic)
                        self._failed(message, exc)
                        continue
                    done.append(message)
            finally:
                if done:
                    # shield: a cancelled task still records what the sink accepted
                    await asyncio.shield(
                        asyncio.to_thread(self._store.mark_delivered, [m.key for m in done])
                    )
                    self._settle(done)
                self._end_pass()
            return len(done)
        finally:
            self._pass_lock.release()

    def _end_pass(self) -> None:
        # A stop() aimed at a manual pass ends that pass only; the loops reset it on start.
        if self._thread is None and self._task is None:
            self._stopping = False

    # -- background loops ------------------------------------------------------------------
    def _pause(self) -> float:
        """Seconds to sleep before the next pass when the last one was not full."""
        wait = self._poll
        if self._held:
            wait = min(wait, max(0.0, min(self._held.values()) - self._clock()))
        return wait

    def wake(self) -> None:
        """Start the next pass of the background thread now (e.g. after a commit)."""
        self._event.set()

    def start(self) -> None:
        """Deliver in a daemon thread until :meth:`stop`."""
        if self.running:
            raise RuntimeError("the relay is already running")
        self._stopping = False
        self._event.clear()
        self._thread = threading.Thread(target=self._loop, name="theus-signals-relay", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping:
            try:
                n = self.run_once()
            except Exception:
                log.exception("outbox relay pass failed; retrying in %.3f s", self._poll)
                n = 0
            if n < self._batch and not self._stopping:
                self._event.wait(self._pause())
                self._event.clear()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background thread (and ask an asyncio loop to stop) after the current
        sink call; what was delivered is marked, the rest stays pending."""
        self._stopping = True
        self._event.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if not thread.is_alive():
                self._thread = None

    def astart(self) -> asyncio.Task[None]:
        """Deliver in an asyncio task of the running loop until :meth:`astop`."""
        if self.running:
            raise RuntimeError("the relay is already running")
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._aloop())
        return self._task

    async def _aloop(self) -> None:
        while not self._stopping:
            try:
                n = await self.arun_once()
            except Exception:
                log.exception("outbox relay pass failed; retrying in %.3f s", self._poll)
                n = 0
            if n < self._batch and not self._stopping:
                await asyncio.sleep(self._pause())

    async def astop(self) -> None:
        """Stop the asyncio task after the current sink call and wait for it."""
        self._stopping = True
        task = self._task
        if task is not None:
            await task
            self._task = None

    def __enter__(self) -> Relay:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _discard_awaitable(result: Awaitable[Any]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()
