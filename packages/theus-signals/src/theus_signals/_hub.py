"""SignalHub: in-process publish/subscribe with glob routing and overflow policies.

Rules / theory of operation:

* One lock per hub (``_lock``) guards every subscription queue and counter, the sequence
  numbers seen by queue subscribers, and the lists of subscriptions and callbacks.
  Callbacks, hooks and logging never run under it.
* Routing: a pattern is compiled once (fnmatch glob → matcher). ``_routes`` caches, per
  topic, ``(receivers, lag_subs, strict_subs, callbacks)``; it is built under the lock and
  replaced by an empty dict (under the lock) by every subscribe, unsubscribe and close, so
  a publisher sees either a complete old route or a complete new one. The cache is cleared
  when it holds ``_MAX_ROUTES`` topics.
* Publish fast path: cache lookup (no lock); if the route has queues: lock, take a seq,
  append to each deque, wake a subscription only if a receiver is parked on it, unlock;
  then run callbacks; then the publish hook, only when a plugin implements it.
* Overflow, per subscription: ``lag`` drops the oldest message and counts it
  (``Lagged(missed)`` on the next receive); ``error`` and ``block`` ("strict") queues are
  checked before anything is appended, so a publish is all-or-nothing across queues:
  ``error`` raises ``Overflow``; ``block`` waits on ``_space`` (notified by receives and
  closes while ``_nblocked`` > 0) up to ``block_timeout``, then raises ``Overflow``.
* Close: the hub marks itself and every subscription closed and wakes everyone; receivers
  drain what is queued, then see ``Closed`` (iteration ends); publish, subscribe and ``on``
  raise ``SignalsError``; blocked publishers raise ``SignalsError``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ._message import Message
from ._patterns import check_topic, compile_pattern
from ._plugins import SignalsPluginManager, make_plugin_manager
from ._subscription import CallbackHandle, Subscription
from .exceptions import Overflow, SignalsError

__all__ = ["OVERFLOW_POLICIES", "SignalHub"]

log = logging.getLogger("theus_signals")

OVERFLOW_POLICIES = ("lag", "block", "error")
CALLBACK_ERROR_MODES = ("log", "raise")
_MAX_ROUTES = 4096

Callback = Callable[[Message], object]
Route = tuple[int, tuple[Subscription, ...], tuple[Subscription, ...], tuple[Callback, ...]]
_new_message = tuple.__new__


def _check_capacity(capacity: object) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, not {capacity}")
    return capacity


def _check_policy(overflow: object) -> str:
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, not {overflow!r}")
    assert isinstance(overflow, str)
    return overflow


class SignalHub:
    """Thread-safe publish/subscribe hub, usable from threads and asyncio.

    ``capacity`` and ``overflow`` (``"lag"``, ``"block"`` or ``"error"``) are the defaults
    of :meth:`subscribe`. ``block_timeout`` bounds how long a publish waits on a full
    ``"block"`` queue (None: forever). ``callback_errors="raise"`` lets a callback's
    exception reach the publisher (default ``"log"``: logged and reported to the
    ``signals_callback_error`` hook only).
    """

    def __init__(
        self,
        capacity: int = 1024,
        overflow: str = "lag",
        *,
        block_timeout: float | None = None,
        callback_errors: str = "log",
        plugins: Iterable[object] = (),
    ) -> None:
        self._capacity = _check_capacity(capacity)
        self._overflow = _check_policy(overflow)
        if block_timeout is not None and not block_timeout >= 0:
            raise ValueError(f"block_timeout must be None or >= 0, not {block_timeout!r}")
        if callback_errors not in CALLBACK_ERROR_MODES:
            raise ValueError(
                f"callback_errors must be one of {CALLBACK_ERROR_MODES}, not {callback_errors!r}"
            )
        self._block_timeout = block_timeout
        self._raise_callback_errors = callback_errors == "raise"
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._nblocked = 0
        # next(count) is atomic: callback-only publishes take a seq without the lock;
        # queue publishes take theirs under it, so queues are in seq order.
        self._seq = itertools.count(1)
        self._subs: list[Subscription] = []
        self._handles: list[CallbackHandle] = []
        self._routes: dict[str, Route] = {}
        self._closed = False
        self._hook_publish = False
        self._hook_callback_error = False
        self._pm = make_plugin_manager(plugins)
        self._pm.add_listener(self._refresh_hooks)

    # -- properties ------------------------------------------------------------------------
    @property
    def plugin_manager(self) -> SignalsPluginManager:
        return self._pm

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def overflow(self) -> str:
        return self._overflow

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SignalHub {state} subscriptions={len(self._subs)} callbacks={len(self._handles)}>"

    def _refresh_hooks(self) -> None:
        self._hook_publish = self._pm.implements("signals_publish")
        self._hook_callback_error = self._pm.implements("signals_callback_error")

    # -- subscribing -----------------------------------------------------------------------
    def subscribe(
        self, pattern: str = "*", *, capacity: int | None = None, overflow: str | None = None
    ) -> Subscription:
        """A queue of every later message whose topic matches the glob ``pattern``."""
        match = compile_pattern(pattern)
        cap = self._capacity if capacity is None else _check_capacity(capacity)
        policy = self._overflow if overflow is None else _check_policy(overflow)
        sub = Subscription(self, pattern, match, cap, policy)
        with self._lock:
            self._check_open()
            self._subs.append(sub)
            self._routes = {}
        return sub

    def on(self, pattern: str, callback: Callback) -> CallbackHandle:
        """Call ``callback(message)`` synchronously, in the publisher's thread, for every
        later message matching ``pattern``. Returns a handle: call it to unsubscribe.

        A callback's exception is logged and reported to the ``signals_callback_error``
        hook; it never reaches the publisher unless ``callback_errors="raise"``. A
        callback removed while a publish is already running may still get that message.
        """
        match = compile_pattern(pattern)
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        handle = CallbackHandle(self, pattern, callback, match)
        with self._lock:
            self._check_open()
            self._handles.append(handle)
            self._routes = {}
        return handle

    def _detach(self, sub: Subscription) -> None:
        with self._lock:
            try:
                self._subs.remove(sub)
            except ValueError:
                pass
            self._routes = {}
            sub._close_locked()
            if self._nblocked:
                self._space.notify_all()

    def _remove_handle(self, handle: CallbackHandle) -> None:
        with self._lock:
            if handle._active:
                handle._active = False
                self._handles.remove(handle)
                self._routes = {}

    def _check_open(self) -> None:
        if self._closed:
            raise SignalsError("the SignalHub is closed")

    def _route(self, topic: str) -> Route:
        check_topic(topic)
        with self._lock:
            self._check_open()
            routes = self._routes
            route = routes.get(topic)
            if route is None:
                lag = tuple(s for s in self._subs if s._overflow == "lag" and s._match(topic))
                strict = tuple(s for s in self._subs if s._overflow != "lag" and s._match(topic))
                callbacks = tuple(h.callback for h in self._handles if h._match(topic))
                route = (len(lag) + len(strict) + len(callbacks), lag, strict, callbacks)
                if len(routes) >= _MAX_ROUTES:
                    routes.clear()
                routes[topic] = route
        return route

    # -- publishing ------------------------------------------------------------------------
    def publish(self, topic: str, payload: Any = None) -> int:
        """Deliver ``payload`` on ``topic`` to every matching subscription and callback.

        Returns the number of receivers (queues + callbacks). Raises ``Overflow`` when an
        ``"error"`` queue is full (or a ``"block"`` queue stays full past
        ``block_timeout``): then no queue received the message and no callback ran.
        """
        route = self._routes.get(topic)
        if route is None:
            route = self._route(topic)
        receivers, lag, strict, callbacks = route
        if lag or strict:
            lock = self._lock
            lock.acquire()
            try:
                if self._closed:
                    raise SignalsError("the SignalHub is closed")
                if strict:
                    for sub in strict:
                        if len(sub._queue) >= sub._limit:
                            self._make_room(topic, strict)
                            break
                message: Message = _new_message(Message, (topic, payload, next(self._seq)))
                for sub in lag:
                    queue = sub._queue
                    if len(queue) >= sub._limit:
                        if sub._closed:
                            continue
                        queue.popleft()
                        sub._missed += 1
                    queue.append(message)
                    if sub._waiting:
                        sub._wake()
                if strict:
                    for sub in strict:
                        if not sub._closed:
                            sub._queue.append(message)
                            if sub._waiting:
                                sub._wake()
            finally:
                lock.release()
        elif self._closed:
            raise SignalsError("the SignalHub is closed")
        elif callbacks or self._hook_publish:
            message = _new_message(Message, (topic, payload, next(self._seq)))
        else:
            return 0
        if callbacks:
            for callback in callbacks:
                try:
                    callback(message)
                except Exception as exc:  # noqa: BLE001 - isolate the publisher (logged)
                    self._callback_failed(message, callback, exc)
        if self._hook_publish:
            self._pm.hook.signals_publish(hub=self, message=message, receivers=receivers)
        return receivers

    send = publish

    def _make_room(self, topic: str, strict: tuple[Subscription, ...]) -> None:
        """Called under the lock: return once every open strict queue has room."""
        deadline: float | None = None
        while True:
            full = None
            for sub in strict:
                if len(sub._queue) >= sub._limit and not sub._closed:
                    if sub._overflow == "error":
                        raise Overflow(topic, sub._pattern, sub._capacity)
                    full = sub
            if full is None:
                return
            timeout = self._block_timeout
            remaining = None
            if timeout is not None:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + timeout
                remaining = deadline - now
                if remaining <= 0:
                    raise Overflow(topic, full._pattern, full._capacity, timeout)
            self._nblocked += 1
            try:
                self._space.wait(remaining)
            finally:
                self._nblocked -= 1
            if self._closed:
                raise SignalsError(f"the SignalHub was closed while publishing {topic!r}")

    def _callback_failed(self, message: Message, callback: Callback, exc: Exception) -> None:
        log.error(
            "signal callback %r failed on topic %r (seq %d)",
            callback,
            message.topic,
            message.seq,
            exc_info=exc,
        )
        if self._hook_callback_error:
            self._pm.hook.signals_callback_error(
                hub=self, message=message, callback=callback, error=exc
            )
        if self._raise_callback_errors:
            raise exc

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the hub: receivers drain what is queued, then their iteration ends;
        publishing (and subscribing) afterwards raises ``SignalsError``. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._routes = {}
            for sub in self._subs:
                sub._close_locked()
            self._space.notify_all()

    def __enter__(self) -> SignalHub:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
