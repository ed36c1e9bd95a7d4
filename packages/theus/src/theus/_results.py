"""Turning what a process returns into writes of its transaction.

Return forms (DESIGN §7): ``None`` (writes were made through ``ctx``); a
:class:`StateUpdate` (``data``/``signals``/``heavy`` mappings keyed by path or by the last
segment of a declared output); a dict whose keys are all declared output paths or last
segments; a tuple, positional over the outputs (when there are several); any other value
goes to the single output. Every write passes the contract check of ``ctx`` writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .exceptions import TheusError

if TYPE_CHECKING:
    from ._context import _Run

__all__ = ["ReturnShapeError", "StateUpdate", "apply_result"]


class StateUpdate:
    """An explicit update: ``StateUpdate(data=None, *, signals=None, heavy=None)``; each a
    mapping ``path -> value`` (paths may be last segments of declared outputs)."""

    __slots__ = ("data", "heavy", "signals")

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        signals: Mapping[str, Any] | None = None,
        heavy: Mapping[str, Any] | None = None,
    ) -> None:
        for label, value in (("data", data), ("signals", signals), ("heavy", heavy)):
            if value is not None and not isinstance(value, Mapping):
                raise TypeError(
                    f"StateUpdate {label} must be a mapping, not {type(value).__name__}"
                )
        self.data = data or {}
        self.signals = signals or {}
        self.heavy = heavy or {}

    def __repr__(self) -> str:
        return f"StateUpdate(data={self.data!r}, signals={self.signals!r}, heavy={self.heavy!r})"


class ReturnShapeError(TheusError, TypeError):
    """A return value cannot be mapped onto the declared outputs."""

    def __init__(self, process: str, reason: str) -> None:
        self.process = process
        self.reason = reason
        super().__init__(f"process {process!r}: {reason}")


def _target(run: _Run, key: str) -> str:
    target = run.spec.output_for(key)
    return target if target is not None else key


def apply_result(run: _Run, result: Any) -> None:
    spec = run.spec
    if type(result) is StateUpdate:
        for mapping in (result.data, result.signals, result.heavy):
            for key, value in mapping.items():
                run.write(_target(run, key), value)
        return
    outputs = spec.outputs
    if not outputs:
        return  # nothing declared: the value is only returned to the caller
    if type(result) is dict and result and all(type(k) is str for k in result):
        targets = [spec.output_for(k) for k in result]
        if all(t is not None for t in targets):
            for target, value in zip(targets, result.values(), strict=True):
                run.write(target, value)  # type: ignore[arg-type]
            return
    if len(outputs) == 1:
        if spec.output_patterns[0].is_glob:
            raise ReturnShapeError(
                spec.name, f"cannot write a bare value to the glob output {outputs[0]!r}"
            )
        run.write(outputs[0], result)
        return
    if type(result) is tuple:
        if len(result) != len(outputs):
            raise ReturnShapeError(
                spec.name,
                f"returned {len(result)} values for {len(outputs)} outputs {list(outputs)}",
            )
        for pat, value in zip(spec.output_patterns, result, strict=True):
            if pat.is_glob:
                raise ReturnShapeError(spec.name, f"positional value for glob output {pat.text!r}")
            run.write(pat.text, value)
        return
    raise ReturnShapeError(
        spec.name,
        f"cannot map a {type(result).__name__} return value onto outputs {list(outputs)} "
        "(return a tuple, a dict keyed by output, a StateUpdate, or None)",
    )
