"""Errors of theus-shm: one root (:class:`ShmError`), built-in bases where natural.

Every error carries the data it is about as attributes (``.name``, ``.key``, ``.requested``,
...), so callers never parse messages.
"""

from __future__ import annotations


class ShmError(Exception):
    """Root of every error raised by theus-shm."""


class InvalidName(ShmError, ValueError):
    """A segment name that is not valid (empty, too long, reserved prefix, bad characters)."""

    def __init__(self, name: object, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"invalid shared-memory name {name!r}: {reason}")


class InvalidArgument(ShmError, ValueError):
    """A bad key, session, shape or dtype; ``.argument`` names which."""

    def __init__(self, argument: str, value: object, reason: str) -> None:
        self.argument = argument
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {argument} {value!r}: {reason}")


class InvalidSegment(ShmError, ValueError):
    """A segment exists but is not a (complete) theus segment: no magic, bad header."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"shared-memory segment {name!r} is not a valid theus segment: {reason}")


class ShmNotFound(ShmError, FileNotFoundError):
    """No segment of that name exists (never created, released, or reclaimed)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no shared-memory segment named {name!r}")


class SegmentExists(ShmError, FileExistsError):
    """A segment (or registry key) of that name already exists."""

    def __init__(self, name: str, key: str | None = None) -> None:
        self.name = name
        self.key = key
        what = f"key {key!r} (segment {name!r})" if key is not None else f"segment {name!r}"
        super().__init__(f"shared memory {what} already exists")


class UnknownKey(ShmError, KeyError):
    """The registry owns no segment under that key."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)

    def __str__(self) -> str:
        return f"no shared-memory segment owned under key {self.key!r}"


class NotOwnerError(ShmError, PermissionError):
    """Only the owner (creating object, in its creating process) may unlink a segment."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"segment {name!r} is borrowed, not owned: only its owner may unlink it")


class ShmCapacityError(ShmError, MemoryError):
    """An allocation would exceed the registry's capacity or the free space of /dev/shm.

    Raised before anything is allocated. ``.requested`` is the size asked for and
    ``.available`` what is left, in bytes; ``.where`` is ``"registry"`` or the
    shared-memory directory; for a registry, ``.capacity`` and ``.used`` are set too.
    """

    def __init__(
        self,
        requested: int,
        available: int,
        where: str = "registry",
        *,
        capacity: int | None = None,
        used: int | None = None,
    ) -> None:
        self.requested = requested
        self.available = available
        self.where = where
        self.capacity = capacity
        self.used = used
        detail = f" (capacity {capacity}, {used} in use)" if capacity is not None else ""
        super().__init__(
            f"cannot allocate {requested} bytes of shared memory: "
            f"only {available} bytes free in {where}{detail}"
        )


class ShmClosed(ShmError, RuntimeError):
    """The registry or segment was closed; it allocates and maps nothing any more."""


class ShmUnsupported(ShmError, NotImplementedError):
    """The feature needs an OS facility this platform lacks (e.g. listing segments on macOS)."""
