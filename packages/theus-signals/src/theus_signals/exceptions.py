"""Errors of theus-signals: one root, :class:`SignalsError`; every error carries its data."""

from __future__ import annotations

__all__ = ["Closed", "Lagged", "OutboxError", "Overflow", "SignalsError"]


class SignalsError(Exception):
    """Root of every error raised by theus-signals."""


class Closed(SignalsError):
    """The subscription (or its hub) is closed and every queued message was received."""

    def __init__(self, pattern: str) -> None:
        super().__init__(f"subscription {pattern!r} is closed")
        self.pattern = pattern


class Lagged(SignalsError):
    """A ``"lag"`` subscription fell behind: ``missed`` oldest messages were dropped.

    Raised once by the next receive; the receive after it continues with the oldest
    message still retained.
    """

    def __init__(self, missed: int, pattern: str = "*") -> None:
        super().__init__(f"subscription {pattern!r} lagged: {missed} message(s) dropped")
        self.missed = missed
        self.pattern = pattern

    def __reduce__(self) -> tuple[type[Lagged], tuple[int, str]]:
        return (type(self), (self.missed, self.pattern))


class Overflow(SignalsError):
    """A publish found a full subscription queue.

    Raised at once for an ``"error"`` subscription, or for a ``"block"`` subscription when
    ``timeout`` (the hub's ``block_timeout``) expired. Nothing was delivered to any queue.
    """

    def __init__(
        self, topic: str, pattern: str, capacity: int, timeout: float | None = None
    ) -> None:
        why = "is full" if timeout is None else f"stayed full for {timeout:g} s"
        super().__init__(
            f"cannot publish {topic!r}: the queue of subscription {pattern!r} "
            f"(capacity {capacity}) {why}"
        )
        self.topic = topic
        self.pattern = pattern
        self.capacity = capacity
        self.timeout = timeout

    def __reduce__(
        self,
    ) -> tuple[type[Overflow], tuple[str, str, int, float | None]]:
        return (type(self), (self.topic, self.pattern, self.capacity, self.timeout))


class OutboxError(SignalsError):
    """An outbox operation failed; ``key`` and ``topic`` name the message when known."""

    def __init__(self, message: str, *, key: str | None = None, topic: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.topic = topic
