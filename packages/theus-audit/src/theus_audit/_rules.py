"""Rule kinds: the built-in checks and the registry that custom kinds join.

A *rule kind* turns the parameter written in a recipe (``min: 0``) into a predicate
``value -> bool`` (true means the value passes). Predicates are built once, when an
:class:`Auditor` compiles its recipe; where possible they are C-level callables
(``functools.partial`` of an ``operator`` function, a bound ``__contains__``) so that a
check costs one call. A predicate may raise (``TypeError`` when the value is not
comparable with the bound, for example): the auditor counts that as a failure of the
rule, never as an error of the caller.
"""

from __future__ import annotations

import operator
import re
import reprlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

__all__ = [
    "BUILTIN_KINDS",
    "OPTION_KEYS",
    "Predicate",
    "PredicateFactory",
    "RuleKind",
    "RuleRegistry",
    "short_repr",
]

Predicate = Callable[[Any], Any]
"""``value -> truthy`` when the value passes the rule."""
PredicateFactory = Callable[[Any], Predicate]
"""``recipe parameter -> Predicate``; raises ``ValueError``/``TypeError`` for a bad one."""
Describe = Callable[[Any, Any, "BaseException | None"], str]
"""``(parameter, value, error raised by the predicate or None) -> failure text``."""

#: Keys of a rule mapping that are options, not checks.
OPTION_KEYS: Final = (
    "field",
    "level",
    "threshold_max",
    "threshold_min",
    "reset_on_success",
    "message",
    "required",
)

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = 8


def short_repr(value: object) -> str:
    """A bounded ``repr`` for messages (values can be large)."""
    return _repr.repr(value)


@dataclass(frozen=True, slots=True)
class RuleKind:
    """A named check: ``factory(param)`` builds the predicate, ``describe`` the failure text."""

    name: str
    factory: PredicateFactory
    describe: Describe


def _generic_describe(name: str) -> Describe:
    def describe(param: Any, value: Any, error: BaseException | None) -> str:
        if error is not None:
            return f"{name} {short_repr(param)} raised {type(error).__name__}: {error}"
        return f"{short_repr(value)} fails {name} {short_repr(param)}"

    return describe


# -- built-in kinds ---------------------------------------------------------------------


def _bound(name: str) -> Callable[[Any], Any]:
    def check(param: Any) -> Any:
        if param is None:
            raise ValueError(f"{name} needs a value, got null")
        return param

    return check


def _cmp_describe(name: str, symbol: str) -> Describe:
    def describe(param: Any, value: Any, error: BaseException | None) -> str:
        if error is not None:
            return (
                f"{short_repr(value)} ({type(value).__name__}) cannot be compared with "
                f"{name} {short_repr(param)} ({type(param).__name__})"
            )
        return f"{short_repr(value)} {symbol} {name} {short_repr(param)}"

    return describe


def _make_min(param: Any) -> Predicate:
    return partial(operator.le, _bound("min")(param))  # bound <= value


def _make_max(param: Any) -> Predicate:
    return partial(operator.ge, _bound("max")(param))  # bound >= value


def _make_eq(param: Any) -> Predicate:
    return partial(operator.eq, param)


def _make_neq(param: Any) -> Predicate:
    return partial(operator.ne, param)


def _length(name: str, param: Any) -> int:
    if isinstance(param, bool) or not isinstance(param, int):
        raise TypeError(f"{name} must be an integer, got {type(param).__name__}")
    if param < 0:
        raise ValueError(f"{name} must be >= 0, got {param}")
    return param


def _make_min_len(param: Any) -> Predicate:
    n = _length("min_len", param)
    return lambda value: len(value) >= n


def _make_max_len(param: Any) -> Predicate:
    n = _length("max_len", param)
    return lambda value: len(value) <= n


def _len_describe(name: str, symbol: str) -> Describe:
    def describe(param: Any, value: Any, error: BaseException | None) -> str:
        if error is not None:
            return f"{short_repr(value)} ({type(value).__name__}) has no length"
        return f"length {len(value)} {symbol} {name} {param}"

    return describe


def _make_regex(param: Any) -> Predicate:
    if not isinstance(param, str):
        raise TypeError(f"regex must be a string, got {type(param).__name__}")
    try:
        pattern = re.compile(param)
    except re.error as exc:
        raise ValueError(f"invalid regex {param!r}: {exc}") from None
    search = pattern.search
    return lambda value: search(value) is not None


def _regex_describe(param: Any, value: Any, error: BaseException | None) -> str:
    if error is not None or not isinstance(value, str):
        return f"{short_repr(value)} ({type(value).__name__}) is not a string for regex {param!r}"
    return f"{short_repr(value)} does not match regex {param!r}"


def _choices(name: str, param: Any) -> Collection[Any]:
    if isinstance(param, (str, bytes)) or not isinstance(param, (list, tuple, set, frozenset)):
        raise TypeError(f"{name} must be a list, got {type(param).__name__}")
    if not param:
        raise ValueError(f"{name} must not be empty")
    try:
        return frozenset(param)
    except TypeError:  # unhashable choices: linear scan
        return tuple(param)


def _make_in(param: Any) -> Predicate:
    return _choices("in", param).__contains__


def _make_not_in(param: Any) -> Predicate:
    choices = _choices("not_in", param)

    def not_in(value: Any) -> bool:
        try:
            return value not in choices
        except TypeError:  # an unhashable value is in no set of hashables
            return True

    return not_in


def _choice_describe(symbol: str) -> Describe:
    def describe(param: Any, value: Any, error: BaseException | None) -> str:
        return f"{short_repr(value)} {symbol} {short_repr(list(param))}"

    return describe


BUILTIN_KINDS: Final[dict[str, RuleKind]] = {
    kind.name: kind
    for kind in (
        RuleKind("min", _make_min, _cmp_describe("min", "<")),
        RuleKind("max", _make_max, _cmp_describe("max", ">")),
        RuleKind("eq", _make_eq, _cmp_describe("eq", "!=")),
        RuleKind("neq", _make_neq, _cmp_describe("neq", "==")),
        RuleKind("min_len", _make_min_len, _len_describe("min_len", "<")),
        RuleKind("max_len", _make_max_len, _len_describe("max_len", ">")),
        RuleKind("regex", _make_regex, _regex_describe),
        RuleKind("in", _make_in, _choice_describe("not in")),
        RuleKind("not_in", _make_not_in, _choice_describe("in forbidden")),
    )
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RuleRegistry:
    """The rule kinds a recipe may use: the built-ins plus registered custom kinds.

    Custom kinds arrive through the ``audit_register_rules`` hook or a direct
    :meth:`register` call; the name becomes a key usable in any rule mapping::

        registry.register("multiple_of", lambda n: lambda v: v % n == 0)
    """

    def __init__(self) -> None:
        self._kinds: dict[str, RuleKind] = dict(BUILTIN_KINDS)

    def register(
        self,
        name: str,
        factory: PredicateFactory,
        *,
        describe: Describe | None = None,
        replace: bool = False,
    ) -> None:
        """Add a kind. ``factory(param)`` returns the predicate (and validates ``param``
        by raising ``ValueError``/``TypeError``); ``describe(param, value, error)`` gives the
        failure text. Built-in kinds and rule options cannot be replaced."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"rule kind name must be an identifier, got {name!r}")
        if name in OPTION_KEYS or name in BUILTIN_KINDS:
            raise ValueError(f"rule kind {name!r} is reserved")
        if not callable(factory):
            raise TypeError(f"factory for rule kind {name!r} is not callable")
        if name in self._kinds and not replace:
            raise ValueError(f"rule kind {name!r} is already registered")
        self._kinds[name] = RuleKind(name, factory, describe or _generic_describe(name))

    def get(self, name: str) -> RuleKind | None:
        return self._kinds.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def names(self) -> tuple[str, ...]:
        """Every known kind, built-ins first, then custom kinds in registration order."""
        return tuple(self._kinds)
