"""Pluggy hook specifications of theus-signals (project name ``theus_signals``).

Plugins implement any of these with :data:`hookimpl` and are passed as
``SignalHub(plugins=[...])`` / ``Relay(..., plugins=[...])``, registered later through
``.plugin_manager.register(plugin)``, or published as entry points in the group
``theus_signals``. Hooks are always called with keyword arguments; an implementation may
accept any subset of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._hub import SignalHub
    from ._message import Message
    from ._outbox import OutboxMessage
    from ._relay import Relay

PROJECT = "theus_signals"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "hookimpl", "hookspec"]


@hookspec
def signals_publish(hub: SignalHub, message: Message, receivers: int) -> None:
    """Fires after ``hub.publish`` handed ``message`` to its ``receivers`` (queues and
    callbacks; 0 when nobody listened), in the publisher's thread."""


@hookspec
def signals_callback_error(
    hub: SignalHub, message: Message, callback: Callable[[Message], object], error: Exception
) -> None:
    """Fires when a callback registered with ``hub.on`` raised ``error`` while handling
    ``message`` (the error is also logged; the publisher never sees it unless the hub was
    built with ``callback_errors="raise"``)."""


@hookspec
def signals_deliver(relay: Relay, message: OutboxMessage) -> None:
    """Fires after the relay's sink accepted ``message`` and the store marked it
    delivered."""


@hookspec
def signals_delivery_failure(
    relay: Relay, message: OutboxMessage, error: Exception, attempt: int, retry_in: float
) -> None:
    """Fires when the relay's sink raised ``error`` for ``message`` on its ``attempt``-th
    try; the message (and later messages of its topic) is retried in ``retry_in`` seconds."""
