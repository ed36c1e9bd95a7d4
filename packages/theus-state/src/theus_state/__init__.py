"""theus-state: a versioned, transactional context with zones, snapshots and path-level CAS."""

from . import hookspecs
from ._conflicts import ConflictManager, RetryDecision
from ._frozen import FrozenList, FrozenMap, freeze, thaw
from ._paths import LAYERS, ParsedPath, Zone, parse_path
from ._state import State
from ._store import Store
from ._transaction import DELETED, CommitParticipant, Transaction
from ._version import __version__
from .exceptions import (
    ConflictError,
    InvalidContext,
    InvalidPath,
    InvalidValue,
    PathNotFound,
    SerializationError,
    StateError,
    TransactionClosed,
    ZoneViolation,
)
from .hookspecs import hookimpl

__all__ = [
    "DELETED",
    "LAYERS",
    "CommitParticipant",
    "ConflictError",
    "ConflictManager",
    "FrozenList",
    "FrozenMap",
    "InvalidContext",
    "InvalidPath",
    "InvalidValue",
    "ParsedPath",
    "PathNotFound",
    "RetryDecision",
    "SerializationError",
    "State",
    "StateError",
    "Store",
    "Transaction",
    "TransactionClosed",
    "Zone",
    "ZoneViolation",
    "__version__",
    "freeze",
    "hookimpl",
    "hookspecs",
    "parse_path",
    "thaw",
]
