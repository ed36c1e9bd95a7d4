"""The safe condition language, compiled once into nested closures.

Theory of operation:
- The text is parsed with ``ast.parse(mode="eval")`` (``global`` is a Python keyword, so
  that one name token is first renamed to a same-length placeholder, keeping columns).
- Every node is checked against an allow-list while it is compiled: constants (int,
  float, str, bool, None), the names ``domain``, ``global`` (aliases ``global_``,
  ``global_ctx``), ``signal``, ``meta``, attribute and subscript access, slices,
  comparisons (chained too), ``and/or/not``, ``+ - * / // % **``, unary ``- +``,
  ``x if c else y``, list and tuple literals, calls of ``len, int, float, str, bool, abs,
  min, max, sum, round`` and the one method ``.get(key[, default])``. Anything else is an
  ``InvalidWorkflow`` naming the source, the line and the offending token.
- Each node becomes a closure ``fn(ctx) -> value``; no user text is ever passed to
  ``eval``/``compile``. The closures behave like Python on plain values.
- Field access (``x.f`` and ``x['f']``): a mapping is read by key only (so ``d.items``
  means the key ``"items"``, never the method); any other object is read by key if it
  supports it, then by attribute; names starting with ``_`` are never read as
  attributes, and plain values (str, numbers, list, tuple, None, ...) are only indexed.
  A missing name or field raises ``LookupError`` at run time; the caller
  (``Condition.evaluate`` or the runner) turns it into a ``FluxConditionError``.
- Resource guards: ``**`` on integers, ``*`` on sequences and ``%`` string formatting
  are refused when they could build huge values.
"""

from __future__ import annotations

from typing import Any

from ._cond_compiler import Compiler, Fn
from .exceptions import FluxConditionError, InvalidWorkflow

__all__ = ["Condition", "compile_condition"]

MAX_LENGTH = 10_000


class Condition:
    """A compiled condition. ``cond.evaluate(ctx)`` returns its value (not just a bool).

    ``fn`` is the raw closure (raises ``LookupError``/``TypeError``/... as Python would);
    ``evaluate`` wraps any failure in ``FluxConditionError``.
    """

    __slots__ = ("fn", "line", "source", "text")

    def __init__(self, text: str, fn: Fn, source: str = "<string>", line: int = 1) -> None:
        self.text = text
        self.fn = fn
        self.source = source
        self.line = line

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line > 0 else self.source

    def evaluate(self, ctx: Any, step_path: str = "") -> Any:
        try:
            return self.fn(ctx)
        except Exception as exc:
            raise self.error(exc, step_path) from exc

    __call__ = evaluate

    def error(self, exc: BaseException, step_path: str) -> FluxConditionError:
        """The ``FluxConditionError`` for ``exc`` raised while evaluating at ``step_path``."""
        reason = exc.args[0] if type(exc) is LookupError and exc.args else None
        if reason is None:
            reason = f"{type(exc).__name__}: {exc}"
        return FluxConditionError(step_path, self.text, self.where, str(reason))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("Condition", self.text))

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"


def compile_condition(text: str, *, source: str = "<string>", line: int = 1) -> Condition:
    """Parse, validate and compile ``text``; a rejected condition raises ``InvalidWorkflow``.

    ``source`` and ``line`` only label errors (a file name and the line of the condition).
    """
    if not isinstance(text, str):
        raise InvalidWorkflow(source, line, f"a condition must be a string, not {text!r}")
    if len(text) > MAX_LENGTH:
        raise InvalidWorkflow(
            source, line, f"condition longer than {MAX_LENGTH} characters", text[:40] + "..."
        )
    # Line breaks act as spaces (as in folded YAML); a condition is one expression.
    src = " ".join(text.strip().splitlines())
    if not src:
        raise InvalidWorkflow(source, line, "empty condition", text)
    return Condition(text.strip(), Compiler(src, source, line).compile_text(), source, line)
