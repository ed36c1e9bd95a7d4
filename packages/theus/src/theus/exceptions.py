"""Public errors of the theus engine. Root: :class:`TheusError`.

Errors of the leaves propagate unchanged (``theus_state.ConflictError``,
``theus_audit.AuditStopError``, ``theus_flux.FluxError`` ...); a process's own exception
propagates as is.
"""

from __future__ import annotations

__all__ = [
    "ContractViolation",
    "InvalidProcess",
    "ParallelError",
    "ProcessNotFound",
    "TheusError",
]


class TheusError(Exception):
    """Root of the errors raised by the engine itself."""


class ContractViolation(TheusError, PermissionError):
    """A process touched the context outside its contract (or its semantic type).

    ``.process`` the process name, ``.path`` the path, ``.access`` one of ``"read"``,
    ``"write"``, ``"delete"``, ``"outbox"``, ``"private"``; ``.reason`` says why."""

    def __init__(self, process: str, path: str, access: str, reason: str) -> None:
        self.process = process
        self.path = path
        self.access = access
        self.reason = reason
        super().__init__(f"process {process!r}: {access} of {path!r} refused: {reason}")


class InvalidProcess(TheusError, TypeError):
    """A process definition or registration is invalid (``.process``, ``.reason``)."""

    def __init__(self, process: str, reason: str) -> None:
        self.process = process
        self.reason = reason
        super().__init__(f"invalid process {process!r}: {reason}")


class ProcessNotFound(TheusError, KeyError):
    """No process is registered under ``.name``."""

    def __init__(self, name: str, known: tuple[str, ...] = ()) -> None:
        self.name = name
        self.known = known
        super().__init__(name)

    def __str__(self) -> str:
        hint = f" (registered: {', '.join(sorted(self.known))})" if self.known else ""
        return f"no process named {self.name!r}{hint}"


class ParallelError(TheusError, RuntimeError):
    """A parallel task failed outside the process body (worker crash, timeout,
    unpicklable process). ``.process`` and ``.reason``."""

    def __init__(self, process: str, reason: str) -> None:
        self.process = process
        self.reason = reason
        super().__init__(f"parallel process {process!r}: {reason}")
