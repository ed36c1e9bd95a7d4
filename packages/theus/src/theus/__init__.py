"""Theus: Process-Oriented Programming with a transactional context, enforced contracts,
Flux workflows, audit, signals and managed shared memory."""

from . import hookspecs
from ._context import ProcessContext
from ._contracts import ProcessSpec, SemanticType, process
from ._engine import TheusEngine
from ._results import ReturnShapeError, StateUpdate
from ._version import __version__
from ._view import View
from .exceptions import (
    ContractViolation,
    InvalidProcess,
    ParallelError,
    ProcessNotFound,
    TheusError,
)
from .hookspecs import hookimpl

__all__ = [
    "ContractViolation",
    "InvalidProcess",
    "ParallelError",
    "ProcessContext",
    "ProcessNotFound",
    "ProcessSpec",
    "ReturnShapeError",
    "SemanticType",
    "StateUpdate",
    "TheusEngine",
    "TheusError",
    "View",
    "__version__",
    "hookimpl",
    "hookspecs",
    "process",
]
