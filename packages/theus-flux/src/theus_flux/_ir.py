"""The validated intermediate representation of a workflow: frozen dataclasses.

A ``Workflow`` holds a tuple of steps; structural steps hold tuples of child steps.
Step paths (``steps[2].do[0]``) are not stored in the steps: they follow from the
structure (``Workflow.walk()`` yields them), so one step object may be shared.
``line`` is the 1-based line of the step in its source (0 when unknown).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from ._condition import Condition

if TYPE_CHECKING:
    import pluggy

__all__ = [
    "CustomStep",
    "IfStep",
    "ProcessStep",
    "RunStep",
    "Step",
    "StepKind",
    "WaitStep",
    "WhileStep",
    "Workflow",
]

Executor: TypeAlias = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class StepKind:
    """A custom step kind, contributed by a plugin's ``flux_step_kinds`` hook.

    ``flux: <name>`` steps are validated against ``keys`` (allowed keys besides ``flux``)
    and ``required``; ``parse(spec)`` turns the step's mapping into its config (raise
    ``ValueError``/``TypeError`` to reject it; default: the mapping itself, read-only);
    ``run(ctx, config, executor)`` executes it and may return an awaitable.
    """

    name: str
    run: Callable[[Any, Any, Executor], Awaitable[Any] | Any]
    keys: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    parse: Callable[[dict[str, Any]], Any] | None = None


@dataclass(frozen=True, slots=True)
class ProcessStep:
    """Run one process through the executor (a bare name or ``process: name``)."""

    name: str
    line: int = 0
    kind: ClassVar[str] = "process"


@dataclass(frozen=True, slots=True)
class IfStep:
    """``flux: if``: run ``then`` when the condition is truthy, else ``else_``."""

    condition: Condition
    then: tuple[Step, ...] = ()
    else_: tuple[Step, ...] = ()
    line: int = 0
    kind: ClassVar[str] = "if"


@dataclass(frozen=True, slots=True)
class WhileStep:
    """``flux: while``: run ``do`` as long as the condition is truthy."""

    condition: Condition
    do: tuple[Step, ...] = ()
    line: int = 0
    kind: ClassVar[str] = "while"


@dataclass(frozen=True, slots=True)
class RunStep:
    """``flux: run``: a nested sequence of steps."""

    steps: tuple[Step, ...] = ()
    line: int = 0
    kind: ClassVar[str] = "run"


@dataclass(frozen=True, slots=True)
class WaitStep:
    """``flux: wait``: pause the run until the condition holds (then continue)."""

    until: Condition
    line: int = 0
    kind: ClassVar[str] = "wait"


@dataclass(frozen=True, slots=True)
class CustomStep:
    """A step of a plugin-defined kind; ``spec`` is its YAML mapping (without ``flux``)."""

    kind: str
    impl: StepKind = field(compare=False)
    config: Any = field(compare=False)
    spec: Mapping[str, Any] = field(default_factory=dict, hash=False)
    line: int = 0


Step: TypeAlias = ProcessStep | IfStep | WhileStep | RunStep | WaitStep | CustomStep


def step_children(step: Step) -> tuple[tuple[str, tuple[Step, ...]], ...]:
    """The child sequences of a step, by their path field name."""
    if isinstance(step, IfStep):
        return (("then", step.then), ("else", step.else_))
    if isinstance(step, WhileStep):
        return (("do", step.do),)
    if isinstance(step, RunStep):
        return (("steps", step.steps),)
    return ()


def _canonical(steps: tuple[Step, ...]) -> list[Any]:
    out: list[Any] = []
    for step in steps:
        if isinstance(step, ProcessStep):
            out.append(["process", step.name])
        elif isinstance(step, IfStep | WhileStep):
            kids = [[key, _canonical(seq)] for key, seq in step_children(step)]
            out.append([step.kind, step.condition.text, kids])
        elif isinstance(step, RunStep):
            out.append(["run", _canonical(step.steps)])
        elif isinstance(step, WaitStep):
            out.append(["wait", step.until.text])
        else:
            out.append(["custom", step.kind, dict(step.spec)])
    return out


@dataclass(frozen=True, slots=True)
class Workflow:
    """A loaded workflow. Build it with ``Workflow.from_yaml(path_or_text)``.

    ``fingerprint`` identifies its structure (steps, names, conditions), so a saved
    ``Position`` is never resumed against a different workflow.
    """

    steps: tuple[Step, ...]
    name: str | None = None
    description: str | None = None
    source: str = "<string>"
    fingerprint: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        blob = json.dumps(_canonical(self.steps), sort_keys=True, default=repr)
        digest = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
        object.__setattr__(self, "fingerprint", digest)

    @classmethod
    def from_yaml(
        cls,
        src: str | os.PathLike[str] | bytes,
        *,
        source: str | None = None,
        plugins: Iterable[object] = (),
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> Workflow:
        """Load from a file path or YAML text; errors are ``InvalidWorkflow`` (file:line).

        A ``str`` is a path when it ends in ``.yaml``/``.yml`` or names an existing file,
        otherwise YAML text (labelled ``<string>``, or ``source``). Custom ``flux:`` kinds
        come from plugins (``plugins``, ``plugin_manager``, or entry points).
        """
        from ._parse import load_yaml

        return load_yaml(src, source=source, plugins=plugins, plugin_manager=plugin_manager)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = "<dict>",
        plugins: Iterable[object] = (),
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> Workflow:
        """Load from plain data shaped like the YAML (errors name ``source`` only)."""
        from ._parse import load_data

        return load_data(data, source=source, plugins=plugins, plugin_manager=plugin_manager)

    def walk(self) -> Iterator[tuple[str, Step]]:
        """Every step with its path, in document order (parents before children)."""
        yield from _walk("steps", self.steps)

    def step_at(self, path: str) -> Step:
        """The step at ``path`` (``KeyError`` if there is none)."""
        for step_path, step in self.walk():
            if step_path == path:
                return step
        raise KeyError(path)


def _walk(prefix: str, steps: tuple[Step, ...]) -> Iterator[tuple[str, Step]]:
    for index, step in enumerate(steps):
        path = f"{prefix}[{index}]"
        yield path, step
        for key, seq in step_children(step):
            yield from _walk(f"{path}.{key}", seq)
