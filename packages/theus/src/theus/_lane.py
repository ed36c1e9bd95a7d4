"""The fast-mode hot path: one process call in one frame.

Rules / theory of operation:
- ``fast_lane(engine, spec)`` is made once per (engine, process) and bound to what never
  changes for that process (its function, the store, the auditor, the plugin manager);
  ``engine.run`` goes straight to it for registered sync processes.
- A call: refuse while the engine is closed; ask the auditor only when its
  ``generation`` moved since the last answer (idle: no audit call at all); before-hook;
  a :class:`FastRun` with every slot filled here, the ``ctx`` and its domain view; the
  body; the return value mapped onto the outputs; the commit (the store's simple blind
  apply while every write was plain, else the run's general commit: the shadow
  transaction replayed, the participants); the run closed; signals published; success recorded;
  after-hook. Any exception aborts the run (nothing committed) and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from theus_state._frozen import EMPTY_NODE, Node

from ._context import _ctx_set_run
from ._fast import _LAYER_FIELDS, _NOTHING, Entry, FastContext, FastRun, FastView, _fc_set_domain
from ._results import apply_result
from ._view import _set_view
from .exceptions import TheusError

if TYPE_CHECKING:
    from ._calls import ProcessCalls
    from ._contracts import ProcessSpec

__all__ = ["FastLane", "fast_lane"]

_new = object.__new__


FastLane = Callable[[Mapping[str, Any], tuple[Any, ...]], Any]


def fast_lane(engine: ProcessCalls, spec: ProcessSpec) -> FastLane:
    """The engine's hot path for one process in fast mode, made once per (engine,
    process): ``lane(kwargs, participants)`` runs one call -- the steps of
    ``ProcessCalls._begin``, the body, the commit and ``_succeeded`` in one frame, with
    what never changes for this process (its function, the store, the auditor) bound
    here instead of looked up per call."""
    name = spec.name
    fn = spec.fn
    store = engine._store
    audit = engine._audit
    is_idle = audit.is_idle
    pm = engine._pm
    fields = _LAYER_FIELDS["domain"]
    seen = (-1, False)  # (audit.generation, is_idle(name) at that generation)

    def lane(kwargs: Mapping[str, Any], participants: tuple[Any, ...] = ()) -> Any:
        nonlocal seen
        if engine._closed:
            raise TheusError("the engine is closed")
        generation, idle = seen
        if generation != audit.generation:
            generation = audit.generation  # read first: a later change is seen next call
            idle = is_idle(name)
            seen = (generation, idle)
        # idle: no audit call is needed below
        if not (idle or audit.is_clear(name)):
            engine._audit_inputs(spec, kwargs)
        active = pm.active  # empty while no plugin implements any hook
        if active and active.get("theus_process_before"):
            pm.hook.theus_process_before(engine=engine, process=spec, kwargs=kwargs)
        state = store._state
        run = _new(FastRun)  # every slot, here: no __init__ frame
        run.engine = engine
        run.spec = spec
        run.state = state
        writes: dict[str, Entry] = {}
        run.writes = writes
        run.local = run.outbox = None
        run.participants = list(participants) if participants else None
        run.tx = None
        run.has_signals = False
        run.plain = True
        run.closed = ""
        try:
            # the ctx and its domain view (``_fast_view`` for an open call, inlined)
            ctx = _new(FastContext)
            _ctx_set_run(ctx, run)
            layer = state._root.get("domain")
            if type(layer) is not Node:
                layer = EMPTY_NODE
            view = _new(FastView)
            _set_view(view, (run, "domain", layer, writes, fields))
            _fc_set_domain(ctx, view)
            result = fn(ctx, **kwargs) if kwargs else fn(ctx)
            if result is not None:
                apply_result(run, result)  # type: ignore[arg-type]
            if not (idle or audit.is_clear(name, "outputs")):
                engine._audit_outputs(spec, run.pending())
            # commit: the store's inlined blind apply of the plain entries in the common
            # case, else the general commit (a shadow transaction, participants)
            if run.participants is not None or not run.plain:
                version = run._apply()
            elif writes:
                simple = store._apply_simple(writes, name, True)
                version = run._apply() if simple is None else simple
            else:
                version = state.version
            # closed: the entries may now belong to the journal; the views, seeing
            # another dict in ``run.writes`` than their own, refuse writes from now on
            run.closed = "committed"
            run.committed = writes
            run.writes = _NOTHING
        except BaseException as exc:
            run.abort()
            engine._failed(spec, exc)
            raise
        if run.has_signals:
            engine._publish(run.signal_writes())
        if not idle:
            audit.record_success(name)
        if active and active.get("theus_process_after"):
            pm.hook.theus_process_after(engine=engine, process=spec, result=result, version=version)
        return result

    return lane
