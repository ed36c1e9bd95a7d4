"""Outbox messages, the outbox store protocol and the in-memory store.

An outbox holds messages that must leave the system only if the transaction that produced
them committed. Every message has an idempotency key: appending a key the store already
holds (pending or delivered) is a no-op, so a retried commit never duplicates a message.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection, Iterable
from typing import Any, NoReturn, Protocol, runtime_checkable

from .exceptions import OutboxError

__all__ = ["MemoryOutboxStore", "OutboxMessage", "OutboxStore", "check_limit"]


class OutboxMessage:
    """An outgoing message: ``topic``, ``payload`` and ``key`` (its idempotency key; a
    random uuid4 hex when not given). Immutable; equal when all three fields are equal."""

    __slots__ = ("key", "payload", "topic")

    topic: str
    payload: Any
    key: str

    def __init__(self, topic: str, payload: Any = None, key: str | None = None) -> None:
        if not isinstance(topic, str) or not topic:
            raise TypeError(f"OutboxMessage topic must be a non-empty str, not {topic!r}")
        if key is None:
            key = uuid.uuid4().hex
        elif not isinstance(key, str) or not key:
            raise TypeError(f"OutboxMessage key must be a non-empty str or None, not {key!r}")
        object.__setattr__(self, "topic", topic)
        object.__setattr__(self, "payload", payload)
        object.__setattr__(self, "key", key)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"OutboxMessage is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"OutboxMessage is immutable (cannot delete {name!r})")

    def __reduce__(self) -> tuple[type[OutboxMessage], tuple[str, Any, str]]:
        return (OutboxMessage, (self.topic, self.payload, self.key))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OutboxMessage):
            return NotImplemented
        return (self.key, self.topic, self.payload) == (other.key, other.topic, other.payload)

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"OutboxMessage(topic={self.topic!r}, payload={self.payload!r}, key={self.key!r})"


@runtime_checkable
class OutboxStore(Protocol):
    """What the collector and the relay need from a store.

    ``append`` is one atomic batch and returns how many messages were new;
    ``pending`` returns undelivered messages, oldest first, skipping ``exclude_topics``;
    ``mark_delivered`` and ``discard`` (withdraw pending messages whose commit failed)
    return how many pending messages they affected; ``len()`` is the pending count.
    """

    def append(self, messages: Iterable[OutboxMessage]) -> int: ...

    def pending(
        self, limit: int = 100, *, exclude_topics: Collection[str] = ()
    ) -> list[OutboxMessage]: ...

    def mark_delivered(self, keys: Iterable[str]) -> int: ...

    def discard(self, keys: Iterable[str]) -> int: ...

    def __len__(self) -> int: ...


def check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit must be an int, not {type(limit).__name__}")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, not {limit}")
    return limit


def check_messages(messages: Iterable[OutboxMessage]) -> list[OutboxMessage]:
    """Materialize a batch, rejecting anything that is not an OutboxMessage."""
    if isinstance(messages, OutboxMessage):
        raise TypeError("append takes an iterable of OutboxMessage; wrap a single one in a list")
    batch = list(messages)
    for item in batch:
        if not isinstance(item, OutboxMessage):
            raise OutboxError(f"not an OutboxMessage: {item!r}")
    return batch


def check_keys(keys: Iterable[str]) -> list[str]:
    if isinstance(keys, str):
        raise TypeError("keys must be an iterable of str, not a single str")
    return list(keys)


class MemoryOutboxStore:
    """In-process outbox store (the default): fast, thread-safe, not durable.

    Delivered keys are remembered (for idempotency) until :meth:`purge_delivered`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, OutboxMessage] = {}
        self._delivered: set[str] = set()

    def append(self, messages: Iterable[OutboxMessage]) -> int:
        batch = check_messages(messages)
        added = 0
        with self._lock:
            pending, delivered = self._pending, self._delivered
            for message in batch:
                key = message.key
                if key not in pending and key not in delivered:
                    pending[key] = message
                    added += 1
        return added

    def pending(
        self, limit: int = 100, *, exclude_topics: Collection[str] = ()
    ) -> list[OutboxMessage]:
        check_limit(limit)
        out: list[OutboxMessage] = []
        with self._lock:
            for message in self._pending.values():
                if exclude_topics and message.topic in exclude_topics:
                    continue
                out.append(message)
                if len(out) >= limit:
                    break
        return out

    def mark_delivered(self, keys: Iterable[str]) -> int:
        keys = check_keys(keys)
        done = 0
        with self._lock:
            for key in keys:
                if self._pending.pop(key, None) is not None:
                    self._delivered.add(key)
                    done += 1
        return done

    def discard(self, keys: Iterable[str]) -> int:
        keys = check_keys(keys)
        with self._lock:
            return sum(self._pending.pop(key, None) is not None for key in keys)

    def purge_delivered(self) -> int:
        """Forget delivered keys (their idempotency protection ends); returns how many."""
        with self._lock:
            n = len(self._delivered)
            self._delivered.clear()
        return n

    def __len__(self) -> int:
        return len(self._pending)

    def __repr__(self) -> str:
        return f"<MemoryOutboxStore pending={len(self._pending)}>"

    def close(self) -> None:
        """Nothing to release (present for symmetry with SqliteOutboxStore)."""
