"""Public errors of theus-state. One root (:class:`StateError`); every error carries data."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConflictError",
    "InvalidContext",
    "InvalidPath",
    "InvalidValue",
    "JournalError",
    "JournalFormatError",
    "JournalLocked",
    "PathNotFound",
    "SerializationError",
    "StateError",
    "TransactionClosed",
    "VersionNotFound",
    "ZoneViolation",
]


class StateError(Exception):
    """Root of every error raised by theus-state."""


class InvalidPath(StateError, ValueError):
    """A path is malformed: empty, has an empty segment, is not a string, or names an
    unknown layer. ``.path`` is what was given, ``.reason`` says what is wrong."""

    def __init__(self, path: Any, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"invalid path {path!r}: {reason}")


class PathNotFound(StateError, KeyError):
    """Nothing is stored at ``.path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(path)

    def __str__(self) -> str:
        return f"path not found: {self.path!r}"


class InvalidContext(StateError, TypeError):
    """A context could not be built from the given object (``.reason`` says why)."""

    def __init__(self, reason: str, *, value: Any = None) -> None:
        self.reason = reason
        self.value = value
        super().__init__(reason)


class ZoneViolation(StateError, PermissionError):
    """A write that the zone of ``.path`` forbids (e.g. any write to a CONSTANT field)."""

    def __init__(self, path: str, zone: str, reason: str) -> None:
        self.path = path
        self.zone = zone
        self.reason = reason
        super().__init__(f"{path!r} ({zone} zone): {reason}")


class ConflictError(StateError):
    """An optimistic commit lost a race: ``.path`` was changed by another commit after
    the transaction started at ``.expected`` (the store is now at ``.actual``)."""

    def __init__(self, path: str, expected_version: int, actual_version: int) -> None:
        self.path = path
        self.expected = expected_version
        self.actual = actual_version
        super().__init__(
            f"conflict on {path!r}: transaction started at version {expected_version}, "
            f"store is at version {actual_version}"
        )

    @property
    def expected_version(self) -> int:
        return self.expected

    @property
    def actual_version(self) -> int:
        return self.actual


class TransactionClosed(StateError, RuntimeError):
    """The transaction was already committed or rolled back (``.status``)."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(f"transaction is already {status}")


class SerializationError(StateError, TypeError):
    """A value at ``.path`` cannot be serialized for the journal; nothing was written."""

    def __init__(self, path: str, value_type: str, detail: str = "") -> None:
        self.path = path
        self.value_type = value_type
        self.detail = detail
        msg = f"cannot serialize value of type {value_type} at {path!r}"
        super().__init__(f"{msg}: {detail}" if detail else msg)


class InvalidValue(StateError, TypeError):
    """A value cannot be stored safely at ``.path`` (it can be neither frozen nor copied)."""

    def __init__(self, path: str, value_type: str, detail: str) -> None:
        self.path = path
        self.value_type = value_type
        self.detail = detail
        super().__init__(f"cannot store value of type {value_type} at {path!r}: {detail}")


class JournalError(StateError):
    """A journal cannot be used (``.path`` when it is a file)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class JournalLocked(JournalError):
    """Another process holds the journal open for writing (``.holder`` is its pid)."""

    def __init__(self, path: str, holder: str) -> None:
        self.holder = holder
        super().__init__(
            f"journal is open for writing by another process (pid {holder})", path=path
        )


class JournalFormatError(JournalError):
    """The file is not a (compatible) theus journal: corrupt, foreign, or newer schema."""


class VersionNotFound(StateError, LookupError):
    """``.version`` is outside the history the journal holds (``.oldest``..``.latest``)."""

    def __init__(self, version: int, oldest: int, latest: int, *, pruned: bool) -> None:
        self.version = version
        self.oldest = oldest
        self.latest = latest
        self.pruned = pruned
        why = "was pruned" if pruned else "does not exist"
        super().__init__(f"version {version} {why}: the journal holds versions {oldest}..{latest}")
