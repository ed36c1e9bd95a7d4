"""Validation of recipe data (YAML-loaded with line marks, or a plain mapping).

Every problem raises :class:`RecipeError` naming the source and line (when known) and the
key path (``processes.transfer.inputs[0].min``). Unknown keys get a did-you-mean hint and
the list of allowed keys.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from ._levels import parse_level
from ._plugins import default_registry
from ._rules import OPTION_KEYS, RuleRegistry
from ._spec import PHASES, Check, ProcessRecipe, RuleSpec, Settings
from .exceptions import RecipeError

__all__ = ["parse_recipe"]

_SETTING_KEYS: Final = ("level", "threshold_max", "threshold_min", "reset_on_success")
_TOP_KEYS: Final = (*_SETTING_KEYS, "processes", "process_recipes")
_PROCESS_KEYS: Final = (*_SETTING_KEYS, *PHASES)
_SIMPLE_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


def parse_recipe(
    data: Any, *, source: str | None, registry: RuleRegistry | None, line: int | None = None
) -> tuple[Settings, Mapping[str, ProcessRecipe]]:
    """Validate ``data``; returns the top-level defaults and the processes."""
    return _Parser(source, registry).parse(data, line)


def _key_line(mapping: Any, key: Any) -> int | None:
    lines = getattr(mapping, "key_lines", None)
    if lines is not None and key in lines:
        return int(lines[key])
    return getattr(mapping, "line", None)


def _item_line(seq: Any, index: int) -> int | None:
    lines = getattr(seq, "item_lines", None)
    if lines is not None and index < len(lines):
        return int(lines[index])
    return getattr(seq, "line", None)


def _join(path: str, key: str) -> str:
    part = key if _SIMPLE_NAME.match(key) else repr(key)
    return f"{path}.{part}" if path else part


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


class _Parser:
    def __init__(self, source: str | None, registry: RuleRegistry | None):
        self.source = source
        self.registry = default_registry() if registry is None else registry

    def fail(self, problem: str, path: str, line: int | None) -> RecipeError:
        return RecipeError(problem, key=path, source=self.source, line=line)

    def check_keys(self, mapping: Mapping[Any, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in mapping:
            if not isinstance(key, str):
                raise self.fail(
                    f"keys must be strings, got {_type_name(key)} {key!r}",
                    path,
                    _key_line(mapping, key),
                )
            if key not in allowed:
                raise self.fail(self.unknown(key, allowed), path, _key_line(mapping, key))

    @staticmethod
    def unknown(key: str, allowed: tuple[str, ...]) -> str:
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f", did you mean {close[0]!r}?" if close else ""
        return f"unknown key {key!r}{hint} (expected one of: {', '.join(allowed)})"

    def mapping(self, value: Any, what: str, path: str, line: int | None) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(f"{what} must be a mapping, got {_type_name(value)}", path, line)
        return value

    # settings ----------------------------------------------------------------------------

    def settings(self, mapping: Mapping[Any, Any], base: Settings, path: str) -> Settings:
        level = base.level
        tmax = base.threshold_max
        tmin = base.threshold_min
        reset = base.reset_on_success
        if "level" in mapping:
            value = mapping["level"]
            try:
                level = parse_level(value)
            except (TypeError, ValueError) as exc:
                raise self.fail(
                    str(exc), _join(path, "level"), _key_line(mapping, "level")
                ) from None
        if "threshold_max" in mapping:
            tmax = self.count_value(mapping, "threshold_max", path, minimum=0)
        if "threshold_min" in mapping:
            tmin = (
                None
                if mapping["threshold_min"] is None
                else self.count_value(mapping, "threshold_min", path, minimum=1)
            )
        if "reset_on_success" in mapping:
            reset = self.bool_value(mapping, "reset_on_success", path)
        return Settings(level, tmax, tmin, reset)

    def count_value(self, mapping: Mapping[Any, Any], key: str, path: str, *, minimum: int) -> int:
        value = mapping[key]
        where = _join(path, key)
        line = _key_line(mapping, key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"expected an integer, got {_type_name(value)} {value!r}", where, line)
        if value < minimum:
            raise self.fail(f"must be >= {minimum}, got {value}", where, line)
        return value

    def bool_value(self, mapping: Mapping[Any, Any], key: str, path: str) -> bool:
        value = mapping[key]
        if not isinstance(value, bool):
            raise self.fail(
                f"expected true or false, got {_type_name(value)} {value!r}",
                _join(path, key),
                _key_line(mapping, key),
            )
        return value

    # structure ---------------------------------------------------------------------------

    def parse(
        self, data: Any, line: int | None = None
    ) -> tuple[Settings, Mapping[str, ProcessRecipe]]:
        top = self.mapping(data, "the recipe", "", getattr(data, "line", line))
        self.check_keys(top, _TOP_KEYS, "")
        if "processes" in top and "process_recipes" in top:
            raise self.fail(
                "use either 'processes' or its alias 'process_recipes', not both",
                "",
                _key_line(top, "process_recipes"),
            )
        defaults = self.settings(top, Settings(), "")
        section = "processes" if "processes" in top else "process_recipes"
        raw = top.get(section, {})
        procs = self.mapping(raw, f"'{section}'", section, _key_line(top, section))
        processes: dict[str, ProcessRecipe] = {}
        for name, body in procs.items():
            line = _key_line(procs, name)
            if not isinstance(name, str) or not name.strip():
                raise self.fail(
                    f"process names must be non-empty strings, got {_type_name(name)} {name!r}",
                    section,
                    line,
                )
            processes[name] = self.process(name, body, defaults, _join(section, name), line)
        return defaults, MappingProxyType(processes)

    def process(
        self, name: str, body: Any, defaults: Settings, path: str, line: int | None
    ) -> ProcessRecipe:
        proc = self.mapping(body, f"process {name!r}", path, line)
        self.check_keys(proc, _PROCESS_KEYS, path)
        settings = self.settings(proc, defaults, path)
        seen: dict[str, int] = {}
        phases: dict[str, tuple[RuleSpec, ...]] = {}
        for phase in PHASES:
            rules = proc.get(phase, [])
            phase_path = _join(path, phase)
            if isinstance(rules, (str, bytes)) or not isinstance(rules, (list, tuple)):
                raise self.fail(
                    f"expected a list of rules, got {_type_name(rules)}",
                    phase_path,
                    _key_line(proc, phase),
                )
            phases[phase] = tuple(
                self.rule(
                    name, phase, rule, settings, f"{phase_path}[{i}]", _item_line(rules, i), seen
                )
                for i, rule in enumerate(rules)
            )
        return ProcessRecipe(name, settings, phases["inputs"], phases["outputs"])

    def rule(
        self,
        process: str,
        phase: str,
        body: Any,
        inherited: Settings,
        path: str,
        line: int | None,
        seen: dict[str, int],
    ) -> RuleSpec:
        rule = self.mapping(body, "a rule", path, line)
        kinds = self.registry.names()
        allowed = (*OPTION_KEYS, *kinds)
        self.check_keys(rule, allowed, path)
        if "field" not in rule:
            raise self.fail("rule has no 'field'", path, getattr(rule, "line", line))
        fld = rule["field"]
        if not isinstance(fld, str) or not fld.strip():
            raise self.fail(
                f"expected a non-empty string, got {_type_name(fld)} {fld!r}",
                _join(path, "field"),
                _key_line(rule, "field"),
            )
        settings = self.settings(rule, inherited, path)
        message = rule.get("message")
        if message is not None and not isinstance(message, str):
            raise self.fail(
                f"expected a string, got {_type_name(message)}",
                _join(path, "message"),
                _key_line(rule, "message"),
            )
        required = self.bool_value(rule, "required", path) if "required" in rule else True
        checks: list[Check] = []
        for kind in rule:
            if kind in OPTION_KEYS:
                continue
            param = rule[kind]
            kline = _key_line(rule, kind)
            spec = self.registry.get(kind)
            assert spec is not None  # check_keys let only known kinds through
            try:
                spec.factory(param)
            except (TypeError, ValueError) as exc:
                raise self.fail(str(exc), _join(path, kind), kline) from None
            base = f"{process}:{phase}:{fld}:{kind}"
            n = seen.get(base, 0) + 1
            seen[base] = n
            checks.append(Check(kind, param, base if n == 1 else f"{base}#{n}", kline))
        if not checks:
            raise self.fail(
                f"rule for field {fld!r} has no check (expected one of: {', '.join(kinds)})",
                path,
                getattr(rule, "line", line),
            )
        self.check_bounds(rule, path)
        return RuleSpec(
            process=process,
            phase=phase,
            field=fld,
            checks=tuple(checks),
            settings=settings,
            message=message,
            required=required,
            source=self.source,
            line=getattr(rule, "line", line),
            path=path,
        )

    def check_bounds(self, rule: Mapping[Any, Any], path: str) -> None:
        for low, high in (("min", "max"), ("min_len", "max_len")):
            if low in rule and high in rule:
                try:
                    bad = bool(rule[low] > rule[high])
                except TypeError:
                    raise self.fail(
                        f"{low} {rule[low]!r} and {high} {rule[high]!r} cannot be compared",
                        _join(path, high),
                        _key_line(rule, high),
                    ) from None
                if bad:
                    raise self.fail(
                        f"{low} {rule[low]!r} is greater than {high} {rule[high]!r}",
                        _join(path, high),
                        _key_line(rule, high),
                    )
