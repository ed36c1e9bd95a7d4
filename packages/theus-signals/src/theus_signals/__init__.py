"""theus-signals: a thread-safe, asyncio-friendly SignalHub and a transactional outbox."""

from ._collector import CommitParticipant, OutboxCollector
from ._hub import OVERFLOW_POLICIES, SignalHub
from ._message import Message
from ._outbox import MemoryOutboxStore, OutboxMessage, OutboxStore
from ._plugins import SignalsPluginManager
from ._relay import HubSink, Relay, RetryPolicy
from ._sqlite_store import SqliteOutboxStore
from ._subscription import CallbackHandle, Subscription
from ._version import __version__
from .exceptions import Closed, Lagged, OutboxError, Overflow, SignalsError
from .hookspecs import hookimpl

__all__ = [
    "OVERFLOW_POLICIES",
    "CallbackHandle",
    "Closed",
    "CommitParticipant",
    "HubSink",
    "Lagged",
    "MemoryOutboxStore",
    "Message",
    "OutboxCollector",
    "OutboxError",
    "OutboxMessage",
    "OutboxStore",
    "Overflow",
    "Relay",
    "RetryPolicy",
    "SignalHub",
    "SignalsError",
    "SignalsPluginManager",
    "SqliteOutboxStore",
    "Subscription",
    "__version__",
    "hookimpl",
]
