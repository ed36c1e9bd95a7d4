"""Hook specifications of theus-state (pluggy project name ``theus_state``).

Implement any of these in a plugin object decorated with :data:`hookimpl` and pass it as
``Store(plugins=[...])``, register it on ``store.plugin_manager``, or publish it under the
entry-point group ``theus_state``. pluggy always calls hooks with keyword arguments (an
implementation may accept any subset of them). Hooks run after the store lock is
released; an exception in a hook propagates to the caller of the operation that fired it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ._store import Store
    from .exceptions import ConflictError

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("theus_state")
hookimpl = pluggy.HookimplMarker("theus_state")


@hookspec
def theus_state_commit(store: Store, version: int, paths: tuple[str, ...], requester: Any) -> None:
    """Fires after a commit that changed something is visible (``store.state.version ==
    version``). ``paths`` are the written paths (DATA, SIGNAL, META) in write order."""


@hookspec
def theus_state_rollback(
    store: Store, version: int, paths: tuple[str, ...], error: BaseException | None
) -> None:
    """Fires when a transaction started at ``version`` is rolled back, explicitly
    (``error`` is None) or because of ``error``. ``paths`` are the discarded writes."""


@hookspec
def theus_state_conflict(store: Store, error: ConflictError, requester: Any) -> None:
    """Fires when a commit or compare-and-swap is rejected with a ConflictError, before
    the error is raised (or retried by ``run_with_retry``)."""
