"""Audit recipes: parsing and validation of YAML or dict recipes.

Shape (every key optional except a rule's ``field`` and at least one check)::

    level: A                 # defaults for every process and rule below
    threshold_max: 3
    threshold_min: null      # null: no AuditWarning
    reset_on_success: true
    processes:               # alias: process_recipes
      transfer:
        level: B             # overrides for this process (its rules and its exceptions)
        inputs:
          - field: amount
            min: 0
            max: 10000
            level: B
            threshold_max: 3
            message: amount out of range
        outputs: [...]

Settings inherit rule <- process <- top <- built-in defaults (level A, threshold_max 3,
threshold_min null, reset_on_success true). Validation happens here, at load: an unknown
key, a wrong type, a bad level or a bad check parameter raises :class:`RecipeError` naming
the file and line (YAML) and the key path (``processes.transfer.inputs[0].min``).

Rule keys (the counters' names) are ``<process>:<phase>:<field>:<kind>``, e.g.
``transfer:inputs:amount:min``; one rule mapping with ``min`` and ``max`` gives two keys.
When the same key would occur twice in a process, the second is suffixed ``#2``, the third
``#3`` (recipe order). A process's exceptions count under ``<process>:error``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import yaml

from ._rules import RuleRegistry
from ._spec import PHASES, Check, ProcessRecipe, RuleSpec, Settings, error_key
from ._validate import parse_recipe
from ._yaml import load_yaml
from .exceptions import RecipeError

__all__ = [
    "PHASES",
    "AuditRecipe",
    "Check",
    "ProcessRecipe",
    "RuleSpec",
    "Settings",
    "error_key",
]

_DEFAULTS: Final = Settings()


@dataclass(frozen=True, slots=True)
class AuditRecipe:
    """A validated recipe. Build it with :meth:`from_yaml`, :meth:`from_yaml_text` or
    :meth:`from_dict`; nothing is ever read implicitly (no working-directory lookup)."""

    defaults: Settings = _DEFAULTS
    processes: Mapping[str, ProcessRecipe] = field(default_factory=lambda: MappingProxyType({}))
    source: str | None = None

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def from_yaml(
        cls, path: str | os.PathLike[str], *, registry: RuleRegistry | None = None
    ) -> AuditRecipe:
        """Load a YAML file. ``registry`` lists the rule kinds allowed besides the
        built-ins (default: the kinds registered by entry-point plugins)."""
        source = os.fspath(path)
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
        return cls.from_yaml_text(text, source=source, registry=registry)

    @classmethod
    def from_yaml_text(
        cls, text: str, *, source: str = "<string>", registry: RuleRegistry | None = None
    ) -> AuditRecipe:
        """Parse YAML text; ``source`` names it in errors."""
        try:
            data, line = load_yaml(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "syntax error"
            if exc.context and problem.startswith("but "):
                problem = f"{exc.context}, {problem}"
            raise RecipeError(
                f"invalid YAML: {problem}",
                source=source,
                line=None if mark is None else mark.line + 1,
            ) from None
        except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is marked
            raise RecipeError(f"invalid YAML: {exc}", source=source) from None
        if data is None:
            raise RecipeError(
                "expected a mapping at the top of the recipe, got an empty document",
                source=source,
                line=line or 1,
            )
        defaults, processes = parse_recipe(data, source=source, registry=registry, line=line)
        return cls(defaults, processes, source)

    @classmethod
    def from_dict(
        cls,
        mapping: Mapping[str, Any],
        *,
        source: str | None = None,
        registry: RuleRegistry | None = None,
    ) -> AuditRecipe:
        """Validate a mapping of the recipe shape. Errors give the key path (and
        ``source`` when given) but no line."""
        defaults, processes = parse_recipe(mapping, source=source, registry=registry)
        return cls(defaults, processes, source)

    # -- queries ------------------------------------------------------------------------

    def settings_for(self, process: str) -> Settings:
        """Settings that apply to ``process`` (its own, else the recipe defaults)."""
        proc = self.processes.get(process)
        return self.defaults if proc is None else proc.settings

    def rule_keys(self) -> tuple[str, ...]:
        """Every rule key of the recipe, in recipe order (error keys not included)."""
        return tuple(
            check.key
            for proc in self.processes.values()
            for rule in proc.rules()
            for check in rule.checks
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping of the recipe shape (settings resolved everywhere)."""

        def settings(s: Settings) -> dict[str, Any]:
            return {
                "level": str(s.level),
                "threshold_max": s.threshold_max,
                "threshold_min": s.threshold_min,
                "reset_on_success": s.reset_on_success,
            }

        def rule(r: RuleSpec) -> dict[str, Any]:
            out: dict[str, Any] = {"field": r.field}
            out.update((c.kind, c.param) for c in r.checks)
            out.update(settings(r.settings))
            if r.message is not None:
                out["message"] = r.message
            if not r.required:
                out["required"] = False
            return out

        return {
            **settings(self.defaults),
            "processes": {
                name: {
                    **settings(p.settings),
                    "inputs": [rule(r) for r in p.inputs],
                    "outputs": [rule(r) for r in p.outputs],
                }
                for name, p in self.processes.items()
            },
        }
