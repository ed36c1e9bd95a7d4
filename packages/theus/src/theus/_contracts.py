"""``@process`` contracts: declared paths, semantic types and access decisions.

Rules:
- Contract paths are dotted context paths whose segments may be globs (``*``, ``?``,
  ``[...]``, matched per segment): ``domain.user.*``. Declaring a path grants its whole
  subtree. Reads are allowed on inputs and outputs, writes on outputs only.
- A read of a proper prefix of a declared path (``domain`` when ``domain.user.name`` is
  declared) yields a navigation view that grants nothing by itself.
- Semantic types, each a superset of the one before: PURE reads DATA/HEAVY/CONSTANT
  inputs and never writes, emits or uses the outbox; EFFECT also writes declared outputs
  (DATA, HEAVY, SIGNAL), reads SIGNAL inputs, uses the outbox; GUIDE also reads and
  writes META. Declarations that break these rules are refused when the process is
  defined; paths reached at run time through globs are checked by zone as well.
- Decisions are cached per process and path, so a guarded access costs one dict lookup
  after its first use.
"""

from __future__ import annotations

import enum
import fnmatch
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar, overload

from theus_state import InvalidPath, Zone, parse_path

from .exceptions import InvalidProcess

__all__ = ["ALLOW", "DENY", "NAV", "ProcessSpec", "SemanticType", "process", "spec_of"]

F = TypeVar("F", bound=Callable[..., Any])

ALLOW: Final = 1
NAV: Final = 2
DENY: Final = 0


class SemanticType(enum.StrEnum):
    PURE = "pure"
    EFFECT = "effect"
    GUIDE = "guide"


_GLOB = re.compile(r"[*?\[]")


class _Pattern:
    __slots__ = ("segments", "text", "zone")

    def __init__(self, text: str, process: str) -> None:
        if not isinstance(text, str):
            raise InvalidProcess(process, f"contract path {text!r} is not a string")
        try:
            parsed = parse_path(text)
        except InvalidPath as exc:
            raise InvalidProcess(process, f"bad contract path {text!r}: {exc.reason}") from None
        self.text = parsed.text
        self.zone = parsed.zone
        self.segments: tuple[Callable[[str], bool], ...] = tuple(
            re.compile(fnmatch.translate(seg)).fullmatch  # type: ignore[misc]
            if _GLOB.search(seg)
            else seg.__eq__
            for seg in parsed.keys
        )

    @property
    def is_glob(self) -> bool:
        return bool(_GLOB.search(self.text))

    def covers(self, keys: tuple[str, ...]) -> bool:
        """``keys`` is this path or inside its subtree."""
        segs = self.segments
        if len(segs) > len(keys):
            return False
        return all(match(k) for match, k in zip(segs, keys, strict=False))

    def leads_to(self, keys: tuple[str, ...]) -> bool:
        """``keys`` is a proper prefix of something this pattern declares."""
        segs = self.segments
        if len(keys) >= len(segs):
            return False
        return all(match(k) for match, k in zip(segs, keys, strict=False))


class ProcessSpec:
    """Everything the engine knows about one process."""

    __slots__ = (
        "_read",
        "_write",
        "errors",
        "fn",
        "inline",
        "input_patterns",
        "inputs",
        "is_async",
        "name",
        "output_patterns",
        "outputs",
        "parallel",
        "semantic",
        "side_effects",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        inputs: Iterable[str] = (),
        outputs: Iterable[str] = (),
        semantic: SemanticType | str = SemanticType.EFFECT,
        errors: Iterable[str | type[BaseException]] = (),
        side_effects: Iterable[str] = (),
        parallel: bool = False,
    ) -> None:
        if not callable(fn):
            raise InvalidProcess(repr(fn), "a process must be callable")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or repr(fn)
        for label, value in (("inputs", inputs), ("outputs", outputs)):
            if isinstance(value, str):
                raise InvalidProcess(self.name, f"{label} must be a list of paths, not a string")
        try:
            self.semantic = SemanticType(semantic)
        except ValueError:
            raise InvalidProcess(
                self.name, f"unknown semantic {semantic!r} (expected pure, effect or guide)"
            ) from None
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.input_patterns = tuple(_Pattern(p, self.name) for p in self.inputs)
        self.output_patterns = tuple(_Pattern(p, self.name) for p in self.outputs)
        self.errors = tuple(e if isinstance(e, str) else e.__name__ for e in errors)
        self.side_effects = tuple(side_effects)
        self.parallel = bool(parallel)
        self.is_async = inspect.iscoroutinefunction(fn)
        self.inline = not (self.parallel or self.is_async)  # ``run`` calls the body itself
        # path -> (ALLOW | NAV | DENY, reason, read-only HEAVY view needed)
        self._read: dict[str, tuple[int, str, bool]] = {}
        self._write: dict[str, tuple[int, str, bool]] = {}
        self._validate()

    def _validate(self) -> None:
        sem = self.semantic
        if sem is SemanticType.PURE and self.outputs:
            raise InvalidProcess(
                self.name, f"a PURE process cannot declare outputs {list(self.outputs)}"
            )
        for pat in self.input_patterns:
            if pat.zone is Zone.SIGNAL and sem is SemanticType.PURE:
                raise InvalidProcess(self.name, f"a PURE process cannot read SIGNAL {pat.text!r}")
            if pat.zone is Zone.META and sem is not SemanticType.GUIDE:
                raise InvalidProcess(
                    self.name, f"only GUIDE processes may read META ({pat.text!r})"
                )
        for pat in self.output_patterns:
            if pat.zone is Zone.META and sem is not SemanticType.GUIDE:
                raise InvalidProcess(
                    self.name, f"only GUIDE processes may write META ({pat.text!r})"
                )
            if pat.zone is Zone.CONSTANT:
                raise InvalidProcess(self.name, f"CONSTANT {pat.text!r} cannot be an output")

    # -- access decisions (cached) -------------------------------------------------------
    def read_access(self, path: str) -> tuple[int, str, bool]:
        decision = self._read.get(path)
        if decision is None:
            p = parse_path(path)
            verdict, reason = self._decide_read(p.keys, p.zone)
            readonly_heavy = (
                verdict == ALLOW
                and p.zone is Zone.HEAVY
                and self._decide_write(p.keys, p.zone)[0] != ALLOW
            )
            decision = self._read[path] = (verdict, reason, readonly_heavy)
        return decision

    def _decide_read(self, keys: tuple[str, ...], zone: Zone) -> tuple[int, str]:
        sem = self.semantic
        if zone is Zone.META and sem is not SemanticType.GUIDE:
            return DENY, "META is reserved to GUIDE processes"
        if zone is Zone.SIGNAL and sem is SemanticType.PURE:
            return DENY, "a PURE process cannot read signals"
        patterns = self.input_patterns + self.output_patterns
        if any(p.covers(keys) for p in patterns):
            return ALLOW, ""
        if any(p.leads_to(keys) for p in patterns):
            return NAV, ""
        return DENY, "not declared in inputs or outputs"

    def write_access(self, path: str) -> tuple[int, str, bool]:
        decision = self._write.get(path)
        if decision is None:
            p = parse_path(path)
            decision = self._write[path] = (*self._decide_write(p.keys, p.zone), False)
        return decision

    def _decide_write(self, keys: tuple[str, ...], zone: Zone) -> tuple[int, str]:
        sem = self.semantic
        if sem is SemanticType.PURE:
            return DENY, "a PURE process cannot write"
        if zone is Zone.CONSTANT:
            return DENY, "CONSTANT fields are read-only"
        if zone is Zone.META and sem is not SemanticType.GUIDE:
            return DENY, "META is reserved to GUIDE processes"
        if any(p.covers(keys) for p in self.output_patterns):
            return ALLOW, ""
        return DENY, "not declared in outputs"

    def output_for(self, key: str) -> str | None:
        """The concrete declared output named by a full path or a last segment."""
        for pat in self.output_patterns:
            if not pat.is_glob and (pat.text == key or pat.text.rsplit(".", 1)[-1] == key):
                return pat.text
        try:
            keys = parse_path(key).keys
        except InvalidPath:
            return None
        if any(p.covers(keys) for p in self.output_patterns):
            return ".".join(keys)
        return None

    def __repr__(self) -> str:
        return f"<ProcessSpec {self.name} {self.semantic.name}>"


_SPEC_ATTR = "__theus_process__"


@overload
def process(fn: F, /) -> F: ...
@overload
def process(
    fn: None = None,
    /,
    *,
    inputs: Iterable[str] = (),
    outputs: Iterable[str] = (),
    semantic: SemanticType | str = SemanticType.EFFECT,
    errors: Iterable[str | type[BaseException]] = (),
    side_effects: Iterable[str] = (),
    parallel: bool = False,
    name: str | None = None,
) -> Callable[[F], F]: ...


def process(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    inputs: Iterable[str] = (),
    outputs: Iterable[str] = (),
    semantic: SemanticType | str = SemanticType.EFFECT,
    errors: Iterable[str | type[BaseException]] = (),
    side_effects: Iterable[str] = (),
    parallel: bool = False,
    name: str | None = None,
) -> Any:
    """Declare a process: ``@process`` or ``@process(inputs=[...], outputs=[...], ...)``.

    The function is returned unchanged (still callable directly); its contract is attached
    to it and read by ``TheusEngine.register`` / ``scan``. Bad declarations raise
    :class:`InvalidProcess` here, at definition time."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        spec = ProcessSpec(
            f,
            name=name,
            inputs=inputs,
            outputs=outputs,
            semantic=semantic,
            errors=errors,
            side_effects=side_effects,
            parallel=parallel,
        )
        setattr(f, _SPEC_ATTR, spec)
        return f

    if fn is not None:
        return decorate(fn)
    return decorate


def spec_of(obj: Any) -> ProcessSpec | None:
    """The contract attached by ``@process`` (None for an undecorated callable)."""
    spec = getattr(obj, _SPEC_ATTR, None)
    return spec if isinstance(spec, ProcessSpec) else None
