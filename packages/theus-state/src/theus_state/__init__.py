"""theus-state: a versioned, transactional context with zones, snapshots and path-level CAS."""

from . import hookspecs
from ._codec import Codec, register_codec
from ._conflicts import ConflictManager, RetryDecision
from ._frozen import FrozenList, FrozenMap, freeze, thaw
from ._journal import CommitRecord, Journal, MemoryJournal
from ._paths import LAYERS, ParsedPath, Zone, parse_path
from ._sqlite_journal import SqliteJournal
from ._sqlite_schema import SCHEMA_VERSION
from ._state import State
from ._store import Store
from ._transaction import DELETED, CommitParticipant, Transaction
from ._version import __version__
from .exceptions import (
    ConflictError,
    InvalidContext,
    InvalidPath,
    InvalidValue,
    JournalError,
    JournalFormatError,
    JournalLocked,
    PathNotFound,
    SerializationError,
    StateError,
    TransactionClosed,
    VersionNotFound,
    ZoneViolation,
)
from .hookspecs import hookimpl

__all__ = [
    "DELETED",
    "LAYERS",
    "SCHEMA_VERSION",
    "Codec",
    "CommitParticipant",
    "CommitRecord",
    "ConflictError",
    "ConflictManager",
    "FrozenList",
    "FrozenMap",
    "InvalidContext",
    "InvalidPath",
    "InvalidValue",
    "Journal",
    "JournalError",
    "JournalFormatError",
    "JournalLocked",
    "MemoryJournal",
    "ParsedPath",
    "PathNotFound",
    "RetryDecision",
    "SerializationError",
    "SqliteJournal",
    "State",
    "StateError",
    "Store",
    "Transaction",
    "TransactionClosed",
    "VersionNotFound",
    "Zone",
    "ZoneViolation",
    "__version__",
    "freeze",
    "hookimpl",
    "hookspecs",
    "parse_path",
    "register_codec",
    "thaw",
]
