"""Compilation of an audit recipe into per-process check plans and key states.

Runs once, when an :class:`~theus_audit.Auditor` is built: every check of the recipe's
rules becomes a ``(field, predicate, KeyState)`` entry of its process's plan for the
phase, with the predicate made by the rule kind's factory from the auditor's registry.
"""

from __future__ import annotations

from typing import NamedTuple

from ._keys import KeyState, Plan, error_text
from ._recipe import PHASES, AuditRecipe, RuleSpec, error_key
from ._rules import Predicate, RuleRegistry
from ._spec import Settings
from .exceptions import RecipeError

__all__ = ["CompiledRecipe", "compile_recipe", "error_state"]


class CompiledRecipe(NamedTuple):
    """What an auditor checks against, built by :func:`compile_recipe`."""

    plans: dict[str, dict[str, Plan]]  # phase -> process -> its plan (only non-empty ones)
    states: dict[str, KeyState]  # rule key -> its state
    errors: dict[str, KeyState]  # process -> its error key's state
    ruled: set[str]  # processes with input or output rules


def compile_recipe(recipe: AuditRecipe, registry: RuleRegistry) -> CompiledRecipe:
    """Plans and key states of ``recipe``, and an error key for each of its processes.

    Raises :class:`RecipeError` for a rule kind ``registry`` does not know, or a
    parameter its factory refuses (``TypeError``/``ValueError``)."""
    compiled = CompiledRecipe({phase: {} for phase in PHASES}, {}, {}, set())
    for proc in recipe.processes.values():
        for phase in PHASES:
            rules: tuple[RuleSpec, ...] = getattr(proc, phase)
            entries = [
                entry for rule in rules for entry in _compile_rule(rule, registry, compiled.states)
            ]
            if entries:
                compiled.plans[phase][proc.name] = tuple(entries)
                compiled.ruled.add(proc.name)
        compiled.errors[proc.name] = error_state(proc.name, recipe.settings_for(proc.name))
    return compiled


def _compile_rule(
    rule: RuleSpec, registry: RuleRegistry, states: dict[str, KeyState]
) -> list[tuple[str, Predicate, KeyState]]:
    out = []
    for check in rule.checks:
        kind = registry.get(check.kind)
        where = f"{rule.path}.{check.kind}"
        if kind is None:
            raise RecipeError(
                f"unknown rule kind {check.kind!r} (no plugin of this Auditor registers it)",
                key=where,
                source=rule.source,
                line=check.line,
            )
        try:
            predicate = kind.factory(check.param)
        except (TypeError, ValueError) as exc:
            raise RecipeError(str(exc), key=where, source=rule.source, line=check.line) from None
        state = KeyState(
            check.key,
            rule.process,
            rule.phase,
            rule.field,
            check.kind,
            check.param,
            rule.settings,
            kind.describe,
            rule.message,
            rule.required,
        )
        states[check.key] = state
        out.append((rule.field, predicate, state))
    return out


def error_state(process: str, settings: Settings) -> KeyState:
    """A fresh ``<process>:error`` key state (exceptions of the process body)."""
    return KeyState(error_key(process), process, "error", "", "error", None, settings, error_text)
