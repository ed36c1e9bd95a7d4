"""Auditor: compiled rules, per-key counters, levels and thresholds.

Rules / theory of operation
---------------------------
Keys. Every check of a rule mapping has a key ``<process>:<phase>:<field>:<kind>``
(``transfer:inputs:amount:min``; a repeated key gets ``#2``, ``#3``). Exceptions of a
process body count under ``<process>:error``. Each key has one counter.

Events on a key (``count`` is the key's counter):

===============================  =====================================================
event                            effect
===============================  =====================================================
check of the key fails           ``count += 1`` (a missing required field, or a value
                                 that cannot be compared, is a failure)
check of the key passes          ``count = 0`` if ``reset_on_success`` else unchanged
``record_failure(process, exc)`` ``count += 1`` on ``<process>:error``
``record_success(process)``      ``count = 0`` on ``<process>:error`` if reset_on_success
``reset()``                      every count 0, nothing blocked, not stopped
===============================  =====================================================

What a failure decides, by the key's level (``n`` = count after the increment):

- ``S``: ``stop``; the auditor becomes *stopped*: every later check returns ``stop``
  without evaluating anything, until ``reset()``.
- ``A``: ``abort`` (every failure; no threshold).
- ``B``: ``warn`` while ``n <= threshold_max``, ``block`` once ``n > threshold_max``
  (``threshold_max: 3`` lets 3 failures through and blocks the 4th). The key is then
  *blocked* while ``count > threshold_max``.
- ``C``: ``warn``.

A blocked key refuses its whole process: ``check_inputs`` and ``check_outputs`` of that
process return ``block`` (even when the current values pass) until its count drops back
to 0 by a success (``reset_on_success: true``) or ``reset()``. With ``reset_on_success``
a blocked *input* key is cleared by the next call whose inputs pass it; a blocked
*output* key does not refuse ``check_inputs`` (only a run can produce the output that
clears it) but ``check_outputs`` refuses until the outputs pass; a blocked error key is
cleared by ``record_success`` (which a refused process cannot earn: call ``reset()``).
With ``reset_on_success: false`` counts only grow, so a blocked key stays blocked until
``reset()``.

``threshold_min`` (any level): when a key's count becomes equal to it, one
:class:`AuditWarning` goes to the ``warnings`` module and the ``audit_threshold_warning``
hook. Counts move one step at a time, so this is exactly once per crossing; it can fire
again only after the count went back to 0.

Several failures in one call: each is counted and reported; the decision takes the most
severe action (stop > abort > block > warn > allow) and lists every reason.

Concurrency: the fast path (no failure, nothing blocked) reads state without locking;
counter updates, block and stop transitions happen under one lock. Hooks, the log and
warnings are called after the lock is released.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import pluggy

from ._compile import compile_recipe, error_state
from ._decision import ALLOW, Decision, Violation
from ._keys import MISSING, Failure, KeyState, Plan, lookup
from ._levels import SEVERITY
from ._log import AuditLog
from ._plugins import make_plugin_manager, registry_from
from ._recipe import AuditRecipe
from ._report import describe_failures, report
from ._rules import RuleRegistry

__all__ = ["Auditor"]


class Auditor:
    """Checks process inputs/outputs against a recipe and keeps per-key counters.

    ``recipe`` is an :class:`AuditRecipe`, a mapping (validated with
    :meth:`AuditRecipe.from_dict`), a path object to a YAML file, or ``None`` (no rules;
    exceptions still count under the default settings). Mapping and path recipes are
    validated against the rule kinds this auditor's plugins register.

    ``generation`` is an int that changes whenever a count, a block or the stopped state
    changes (never on a passing check): what :meth:`is_idle` and :meth:`is_clear` say
    holds while it stays the same, so hot callers may keep their answers.
    """

    def __init__(
        self,
        recipe: AuditRecipe | Mapping[str, Any] | os.PathLike[str] | None = None,
        *,
        plugins: Iterable[object] = (),
        log: AuditLog | None = None,
    ) -> None:
        self.plugin_manager: pluggy.PluginManager = make_plugin_manager(plugins)
        self.registry: RuleRegistry = registry_from(self.plugin_manager)
        if recipe is None:
            recipe = AuditRecipe()
        elif isinstance(recipe, os.PathLike):
            recipe = AuditRecipe.from_yaml(recipe, registry=self.registry)
        elif not isinstance(recipe, AuditRecipe):
            if not isinstance(recipe, Mapping):
                raise TypeError(
                    "recipe must be an AuditRecipe, a mapping or a path object, "
                    f"got {type(recipe).__name__}"
                )
            recipe = AuditRecipe.from_dict(recipe, registry=self.registry)
        self.recipe: AuditRecipe = recipe
        self.log: AuditLog = AuditLog() if log is None else log
        self._hook = self.plugin_manager.hook
        self._lock = threading.Lock()
        self._stop: Decision | None = None
        self._blocked: dict[str, dict[str, KeyState]] = {}
        compiled = compile_recipe(recipe, self.registry)
        self._states: dict[str, KeyState] = compiled.states
        self._errors: dict[str, KeyState] = compiled.errors
        self._plans: dict[str, dict[str, Plan]] = compiled.plans
        self._ruled: set[str] = compiled.ruled  # processes with input or output rules
        # changes whenever a count, a block or the stopped state changes (see is_idle)
        self.generation = 0

    # -- error keys -----------------------------------------------------------------------

    def _error_state(self, process: str) -> KeyState:
        state = self._errors.get(process)
        if state is None:
            with self._lock:
                state = self._errors.get(process)
                if state is None:
                    state = error_state(process, self.recipe.settings_for(process))
                    self._errors[process] = state
        return state

    # -- checks (hot path) ----------------------------------------------------------------

    def check_inputs(self, process: str, values: Mapping[str, Any]) -> Decision:
        """Check a process's inputs (call before its body). Never raises for a failing
        rule: returns a :class:`Decision` (``decision.raise_for_level()`` to raise)."""
        return self._check(self._plans["inputs"], "inputs", process, values)

    def check_outputs(self, process: str, values: Mapping[str, Any]) -> Decision:
        """Check a process's outputs (call before its commit)."""
        return self._check(self._plans["outputs"], "outputs", process, values)

    def _check(
        self, plans: dict[str, Plan], phase: str, process: str, values: Mapping[str, Any]
    ) -> Decision:
        stop = self._stop
        if stop is not None:
            return stop
        plan = plans.get(process)
        if plan is None:
            if process in self._blocked:
                return self._finish(process, phase, None)
            return ALLOW
        failed: list[Failure] | None = None
        for field, predicate, state in plan:
            try:
                value = values[field]
            except KeyError:
                value = lookup(values, field)
                if value is MISSING:
                    if state.required:
                        if failed is None:
                            failed = []
                        failed.append((state, value, None))
                    continue
            try:
                if predicate(value):
                    if state.count and state.reset:
                        self._passed(state)
                    continue
                error = None
            except Exception as exc:  # noqa: BLE001 - any predicate error is a rule failure
                error = exc
            if failed is None:
                failed = []
            failed.append((state, value, error))
        if failed is None and process not in self._blocked:
            return ALLOW
        return self._finish(process, phase, failed)

    def _passed(self, state: KeyState) -> None:
        with self._lock:
            if not (state.reset and state.count):
                return
            state.count = 0
            blocked = self._blocked.get(state.process)
            if blocked is not None and blocked.pop(state.key, None) is not None and not blocked:
                del self._blocked[state.process]
            self.generation += 1

    # -- failures (slow path) -------------------------------------------------------------

    def _finish(
        self, process: str, phase: str, failed: list[Failure] | None, *, stacklevel: int = 4
    ) -> Decision:
        texts = describe_failures(failed)
        violations: list[Violation] = []
        crossings: list[tuple[KeyState, int]] = []
        reasons: list[str] = []
        severity = 0
        with self._lock:
            for (state, value, _), detail in zip(failed or (), texts, strict=True):
                state.count += 1
                count = state.count
                action = state.action(count)
                if action == "block":
                    self._blocked.setdefault(process, {})[state.key] = state
                elif action == "stop" and self._stop is None:
                    self._stop = Decision(
                        "stop",
                        (f"stopped by {state.key}: {state.message or detail} (call reset())",),
                        (),
                        process,
                        phase,
                    )
                if state.tmin is not None and count == state.tmin:
                    crossings.append((state, count))
                v = Violation(
                    key=state.key,
                    process=process,
                    phase=state.phase,
                    field=state.field,
                    rule=state.rule,
                    level=state.level,
                    value=None if value is MISSING else value,
                    message=state.message or detail,
                    detail=detail,
                    count=count,
                    action=action,
                )
                violations.append(v)
                reasons.append(v.reason)
                severity = max(severity, SEVERITY[action])
            if phase != "error":
                blocked = self._blocked.get(process)
                if blocked:
                    failing = {v.key for v in violations}
                    for key, state in blocked.items():
                        if key in failing or not (phase == "outputs" or state.sticky):
                            continue
                        reasons.append(
                            f"{key}: blocked after {state.count} failures "
                            f"(threshold_max {state.tmax})"
                        )
                        severity = max(severity, SEVERITY["block"])
            stop = self._stop
            if stop is not None and severity < SEVERITY["stop"]:
                reasons.extend(stop.reasons)
                severity = SEVERITY["stop"]
            if failed:
                self.generation += 1
        if severity == 0:
            return ALLOW  # e.g. an output key blocked but nothing refuses check_inputs
        decision = Decision(
            ("allow", "warn", "block", "abort", "stop")[severity],
            tuple(reasons),
            tuple(violations),
            process,
            phase,
        )
        report(self.log, self._hook, violations, crossings, stacklevel + 1)
        return decision

    # -- process outcome ------------------------------------------------------------------

    def record_failure(self, process: str, exc: BaseException) -> Decision:
        """Count an exception raised by the process body under ``<process>:error`` and
        decide by the process's level (``threshold_max`` applies to B)."""
        state = self._error_state(process)
        return self._finish(process, "error", [(state, exc, None)], stacklevel=3)

    def record_success(self, process: str) -> None:
        """The process committed: reset its error key (when ``reset_on_success``)."""
        state = self._errors.get(process)
        if state is not None and state.count and state.reset:
            self._passed(state)

    # -- state --------------------------------------------------------------------------

    def reset(self, process: str | None = None) -> None:
        """Zero counters and lift blocks: all of them and the stopped state, or only
        ``process``'s keys (the stopped state is lifted by a full reset only)."""
        with self._lock:
            for state in (*self._states.values(), *self._errors.values()):
                if process is None or state.process == process:
                    state.count = 0
            if process is None:
                self._blocked.clear()
                self._stop = None
            else:
                self._blocked.pop(process, None)
            self.generation += 1

    def counts(self) -> dict[str, int]:
        """Rule key -> current count of failures (consecutive ones when
        ``reset_on_success``), for every rule key and every error key seen."""
        with self._lock:
            out = {key: state.count for key, state in self._states.items()}
            out.update((state.key, state.count) for state in self._errors.values())
        return out

    def is_clear(self, process: str, phase: str = "inputs") -> bool:
        """True when ``check_inputs``/``check_outputs`` (``phase``) of ``process`` would
        return allow whatever the values: no rules for it, not blocked, not stopped. A
        caller may then skip building the values and the check itself."""
        return (
            self._stop is None
            and process not in self._blocked
            and process not in self._plans[phase]
        )

    def is_idle(self, process: str) -> bool:
        """True when a call of ``process`` needs nothing from the auditor: no input or
        output rules for it, not blocked, not stopped, and no failure count that
        ``record_success`` would reset. A caller may then skip ``check_inputs``,
        ``check_outputs`` and ``record_success`` for that call. The answer (like
        ``is_clear``'s) can only change when :attr:`generation` does, so a caller may
        keep it while ``generation`` stays the same."""
        if self._stop is not None or process in self._blocked or process in self._ruled:
            return False
        state = self._errors.get(process)
        return state is None or not state.count

    @property
    def stopped(self) -> bool:
        """True while an S rule has stopped the auditor (until ``reset()``)."""
        return self._stop is not None

    @property
    def stop_decision(self) -> Decision | None:
        """The decision every check returns while stopped (``None`` when running)."""
        return self._stop

    def blocked(self) -> dict[str, tuple[str, ...]]:
        """Process -> its blocked keys."""
        with self._lock:
            return {proc: tuple(keys) for proc, keys in self._blocked.items() if keys}

    def __repr__(self) -> str:
        return (
            f"Auditor(processes={len(self.recipe.processes)}, keys={len(self._states)}, "
            f"stopped={self.stopped})"
        )
