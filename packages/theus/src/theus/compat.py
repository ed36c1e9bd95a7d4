"""Compatibility names for code written against the published Rust-core Theus API.

Import from here while migrating (see docs/migration.md), then move to the new names:

- ``OutboxMsg`` is :class:`theus_signals.OutboxMessage` (same ``topic``/``payload``; an
  idempotency ``key`` is generated when absent).
- ``TheusEngine`` accepts the old ``strict_guards=`` keyword: guards now come with
  ``strict_mode`` (``strict_guards=True`` is what ``strict_mode=True`` does;
  ``strict_guards=False`` with ``strict_mode=True`` is refused, since running the
  transaction layer without guards no longer exists: use ``strict_mode=False`` for the
  unguarded fast path). It also keeps ``register_process(name, fn)`` and
  ``run_process(name, **kwargs)``.
- ``ContractViolationError`` is :class:`theus.ContractViolation`.
- ``ctx.domain_ctx`` / ``ctx.global_ctx`` need nothing: the process context keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from theus_signals import OutboxMessage, SignalHub

from ._contracts import ProcessSpec
from ._engine import TheusEngine as _Engine
from .exceptions import ContractViolation

__all__ = ["ContractViolationError", "OutboxMsg", "SignalHub", "TheusEngine"]

OutboxMsg = OutboxMessage
ContractViolationError = ContractViolation


class TheusEngine(_Engine):
    """:class:`theus.TheusEngine` that also accepts the Rust-core keyword arguments and
    method names."""

    def __init__(
        self,
        context: Any = None,
        *,
        strict_mode: bool = True,
        strict_guards: bool | None = None,
        **options: Any,
    ) -> None:
        if strict_guards is False and strict_mode:
            raise ValueError(
                "strict_guards=False with strict_mode=True is no longer supported: guards come "
                "with strict_mode (use strict_mode=False for the unguarded fast path)"
            )
        super().__init__(context, strict_mode=strict_mode, **options)

    def register_process(self, name: str, fn: Callable[..., Any]) -> ProcessSpec:
        """Old spelling of ``register(fn, name=name)``."""
        return self.register(fn, name=name)

    def run_process(self, name: Any, /, **kwargs: Any) -> Any:
        """Old spelling of ``run(name, **kwargs)`` (synchronous)."""
        return self.run(name, **kwargs)
