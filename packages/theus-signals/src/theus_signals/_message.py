"""The message a SignalHub delivers."""

from __future__ import annotations

from typing import Any, NamedTuple


class Message(NamedTuple):
    """One published signal: ``topic``, ``payload`` (any object, passed by reference) and
    ``seq``, the hub's publication number (strictly increasing in each subscriber's order,
    not dense: a subscriber sees only the topics it matches)."""

    topic: str
    payload: Any
    seq: int
