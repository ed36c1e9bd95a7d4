"""YAML node graph -> validated IR. Every rejection is an ``InvalidWorkflow`` at file:line.

The parser walks composed nodes (never constructed Python data), so it knows the line of
every key and value, sees duplicate keys (which PyYAML would silently merge), and rejects
unknown keys and kinds. Conditions are compiled here, once.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn

import pluggy
import yaml

from ._condition import Condition, compile_condition
from ._ir import (
    CustomStep,
    IfStep,
    ProcessStep,
    RunStep,
    Step,
    StepKind,
    WaitStep,
    WhileStep,
    Workflow,
)
from ._yaml import FluxLoader, compose, node_line, read_source, yaml_error
from .exceptions import InvalidWorkflow

__all__ = ["load_data", "load_yaml"]

MAX_NESTING = 100
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TOP_KEYS = ("steps", "name", "description")
# kind -> (allowed keys, required keys); "flux" itself is always allowed
_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "if": (("condition", "then", "else"), ("condition", "then")),
    "while": (("condition", "do"), ("condition", "do")),
    "run": (("steps",), ("steps",)),
    "wait": (("until",), ("until",)),
}


def load_yaml(
    src: str | os.PathLike[str] | bytes,
    *,
    source: str | None = None,
    plugins: Iterable[object] = (),
    plugin_manager: pluggy.PluginManager | None = None,
) -> Workflow:
    text, label = read_source(src, source)
    loader, root = compose(text, label)
    return _Parser(loader, label, plugins, plugin_manager).workflow(root)


def load_data(
    data: Mapping[str, Any],
    *,
    source: str = "<dict>",
    plugins: Iterable[object] = (),
    plugin_manager: pluggy.PluginManager | None = None,
) -> Workflow:
    try:
        root = yaml.SafeDumper(io.StringIO()).represent_data(data)
    except yaml.YAMLError as exc:
        raise InvalidWorkflow(source, 0, f"not plain data: {exc}") from None
    return _Parser(FluxLoader(""), source, plugins, plugin_manager).workflow(root)


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return repr(node.value)


class _Parser:
    def __init__(
        self,
        loader: FluxLoader,
        source: str,
        plugins: Iterable[object],
        plugin_manager: pluggy.PluginManager | None,
    ) -> None:
        self.loader = loader
        self.source = source
        self.plugins = tuple(plugins)
        self.plugin_manager = plugin_manager
        self._custom: dict[str, StepKind] | None = None

    # -- helpers
    def fail(self, node: yaml.Node | None, detail: str, token: str | None = None) -> NoReturn:
        raise InvalidWorkflow(self.source, node_line(node), detail, token)

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"expected a single value, found {_describe(node)}")
        return self.data(node)

    def data(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise yaml_error(self.source, exc) from None

    def string(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node)
        if not isinstance(value, str) or not value.strip():
            self.fail(node, f"{what} must be a non-empty string, not {value!r}", str(value))
        return value.strip()

    def mapping(self, node: yaml.MappingNode, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        explicit = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
        try:
            self.loader.flatten_mapping(node)  # YAML merge keys (<<): merged pairs come first
        except yaml.YAMLError as exc:
            raise yaml_error(self.source, exc) from None
        merged = len(node.value) - explicit
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        seen: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.scalar(key_node)
            if not isinstance(key, str):
                self.fail(key_node, f"keys of {what} must be strings, not {key!r}", str(key))
            if index >= merged:  # explicit keys override merged ones, never each other
                if key in seen:
                    self.fail(key_node, f"duplicate key {key!r} in {what}", key)
                seen.add(key)
            out[key] = (key_node, value_node)
        return out

    def check_keys(
        self,
        entries: dict[str, tuple[yaml.Node, yaml.Node]],
        allowed: Iterable[str],
        required: Iterable[str],
        what: str,
        node: yaml.Node,
    ) -> None:
        allowed = tuple(allowed)
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                listing = ", ".join(sorted(allowed))
                self.fail(key_node, f"unknown key {key!r} in {what} (allowed: {listing})", key)
        for key in required:
            if key not in entries:
                self.fail(node, f"{what} needs the key {key!r}", key)

    def condition(self, node: yaml.Node) -> Condition:
        value = self.scalar(node)
        if isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.fail(node, f"a condition must be a string, not {value!r}", str(value))
        return compile_condition(value, source=self.source, line=node_line(node))

    # -- structure
    def workflow(self, root: yaml.Node | None) -> Workflow:
        if root is None:
            raise InvalidWorkflow(self.source, 1, "empty workflow (expected a 'steps' list)")
        if not isinstance(root, yaml.MappingNode):
            self.fail(root, f"a workflow must be a mapping with 'steps', not {_describe(root)}")
        entries = self.mapping(root, "the workflow")
        self.check_keys(entries, _TOP_KEYS, ("steps",), "the workflow", root)
        texts: dict[str, str | None] = {"name": None, "description": None}
        for key in texts:
            if key in entries:
                texts[key] = self.string(entries[key][1], f"'{key}'")
        steps = self.steps(entries["steps"][1], "steps", 0)
        return Workflow(steps, texts["name"], texts["description"], self.source)

    def steps(self, node: yaml.Node, path: str, depth: int) -> tuple[Step, ...]:
        if depth > MAX_NESTING:
            self.fail(node, f"steps nested deeper than {MAX_NESTING} levels", path)
        if isinstance(node, yaml.ScalarNode) and self.data(node) is None:
            self.fail(node, f"'{path.rsplit('.', 1)[-1]}' must be a list of steps, not empty")
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{path} must be a list of steps, not {_describe(node)}")
        return tuple(
            self.step(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(node.value)
        )

    def step(self, node: yaml.Node, path: str, depth: int) -> Step:
        line = node_line(node)
        if isinstance(node, yaml.ScalarNode):
            value = self.data(node)
            if not isinstance(value, str) or not value.strip():
                self.fail(
                    node,
                    f"step {path} must be a process name or a mapping, not {value!r}",
                    str(value),
                )
            return ProcessStep(value.strip(), line)
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"step {path} must be a process name or a mapping, not a list")
        entries = self.mapping(node, f"step {path}")
        if "flux" not in entries:  # a custom kind may have a 'process' key: 'flux' decides
            if "process" in entries:
                self.check_keys(entries, ("process",), (), f"process step {path}", node)
                return ProcessStep(self.string(entries["process"][1], "'process'"), line)
            first = next(iter(entries), "")
            self.fail(node, f"step {path} needs 'process' or 'flux'", first)
        kind_node = entries["flux"][1]
        kind = self.scalar(kind_node)
        if kind in _KINDS:
            allowed, required = _KINDS[kind]
            what = f"'flux: {kind}' step {path}"
            self.check_keys(entries, ("flux", *allowed), required, what, node)
            return self.builtin(kind, entries, path, depth, line)
        custom = self.custom_kinds().get(kind) if isinstance(kind, str) else None
        if custom is None:
            known = ", ".join([*_KINDS, *sorted(self.custom_kinds())])
            self.fail(kind_node, f"unknown step kind {kind!r} (known: {known})", str(kind))
        return self.custom(custom, entries, path, node, line)

    def builtin(
        self,
        kind: str,
        entries: dict[str, tuple[yaml.Node, yaml.Node]],
        path: str,
        depth: int,
        line: int,
    ) -> Step:
        def body(key: str) -> tuple[Step, ...]:
            if key not in entries:
                return ()
            return self.steps(entries[key][1], f"{path}.{key}", depth)

        if kind == "if":
            condition = self.condition(entries["condition"][1])
            return IfStep(condition, body("then"), body("else"), line)
        if kind == "while":
            return WhileStep(self.condition(entries["condition"][1]), body("do"), line)
        if kind == "run":
            return RunStep(body("steps"), line)
        return WaitStep(self.condition(entries["until"][1]), line)

    # -- custom kinds (plugins)
    def custom_kinds(self) -> dict[str, StepKind]:
        if self._custom is None:
            from ._plugins import make_plugin_manager

            pm = self.plugin_manager or make_plugin_manager(self.plugins)
            kinds: dict[str, StepKind] = {}
            for contributed in pm.hook.flux_step_kinds():
                for kind in contributed or ():
                    if kind.name not in _KINDS and kind.name != "process":
                        kinds.setdefault(kind.name, kind)
            self._custom = kinds
        return self._custom

    def custom(
        self,
        kind: StepKind,
        entries: dict[str, tuple[yaml.Node, yaml.Node]],
        path: str,
        node: yaml.Node,
        line: int,
    ) -> CustomStep:
        what = f"'flux: {kind.name}' step {path}"
        self.check_keys(entries, ("flux", *kind.keys), kind.required, what, node)
        spec = {key: self.data(value) for key, (_, value) in entries.items() if key != "flux"}
        if kind.parse is None:
            return CustomStep(kind.name, kind, MappingProxyType(spec), spec, line)
        try:
            config = kind.parse(dict(spec))
        except InvalidWorkflow as exc:
            raise InvalidWorkflow(self.source, line, exc.detail, exc.token) from None
        except (ValueError, TypeError, LookupError) as exc:
            raise InvalidWorkflow(self.source, line, f"{what}: {exc}", kind.name) from None
        return CustomStep(kind.name, kind, config, spec, line)
