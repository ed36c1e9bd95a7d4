"""Random valid expression trees evaluate exactly like Python on plain values."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from theus_flux import FluxConditionError, compile_condition


class AttrDict(dict[str, Any]):
    """A dict that Python can also read with attributes (``d.x``), as conditions do."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def make_domain() -> AttrDict:
    return AttrDict(
        a=3,
        b=-2.5,
        s="ab",
        l=[1, 2, 3],
        t=(4, 5),
        flag=True,
        nothing=None,
        d=AttrDict(x=1, y=[1, "a"], z=AttrDict(w=0)),
    )


FUNCTIONS = {f.__name__: f for f in (len, int, float, str, bool, abs, min, max, sum, round)}
NAMES = [
    "domain.a",
    "domain.b",
    "domain.s",
    "domain.l",
    "domain.t",
    "domain.flag",
    "domain.nothing",
    "domain.missing",
    "domain['a']",
    "domain['s']",
    "domain.d.x",
    "domain.d['y']",
    "domain.d.z.w",
    "domain['d']['z']",
    "domain.l[0]",
    "domain.l[-1]",
    "domain.t[1]",
    "domain.get('a')",
    "domain.get('zz', 7)",
    "domain.d.get('x', 0)",
]

leaves = st.one_of(
    st.integers(-20, 20).map(str),
    st.floats(-100, 100, allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["True", "False", "None"]),
    st.text(alphabet="ab ", max_size=3).map(repr),
    st.sampled_from(NAMES),
)


def _compare(parts: tuple[str, list[tuple[str, str]]]) -> str:
    first, rest = parts
    return "(" + first + "".join(f" {op} {e}" for op, e in rest) + ")"


def _tuple(items: list[str]) -> str:
    if len(items) == 1:
        return f"({items[0]},)"
    return "(" + ", ".join(items) + ")"


def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binop = st.sampled_from(["+", "-", "*", "/", "//", "%"])
    cmpop = st.sampled_from(["<", "<=", ">", ">=", "==", "!=", "in", "not in"])
    fn1 = st.sampled_from(sorted(FUNCTIONS))
    return st.one_of(
        st.tuples(children, binop, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.integers(0, 3)).map(lambda t: f"({t[0]} ** {t[1]})"),
        st.tuples(children, st.lists(st.tuples(cmpop, children), min_size=1, max_size=3)).map(
            _compare
        ),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(st.sampled_from(["not ", "-", "+"]), children).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[1]} if {t[0]} else {t[2]})"),
        st.lists(children, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(children, min_size=1, max_size=3).map(_tuple),
        st.tuples(fn1, children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["min", "max", "round", "int", "sum"]), children, children).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        st.tuples(children, children).map(lambda t: f"({t[0]})[{t[1]}]"),
        st.tuples(children, st.sampled_from(["is", "is not"])).map(
            lambda t: f"({t[0]} {t[1]} None)"
        ),
    )


expressions = st.recursive(leaves, extend, max_leaves=12)

# Our resource guards refuse what plain Python would (slowly) compute: not a mismatch.
GUARDS = ("refused", "not supported in conditions")


def python_eval(text: str, domain: AttrDict) -> tuple[str, Any]:
    scope: dict[str, Any] = {"__builtins__": {}, **FUNCTIONS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = compile(text, "<expr>", "eval")
    try:
        return "ok", eval(code, scope, {"domain": domain})
    except Exception as exc:
        return "error", type(exc).__name__


def flux_eval(text: str, domain: AttrDict) -> tuple[str, Any]:
    cond = compile_condition(text)
    try:
        return "ok", cond.evaluate({"domain": domain})
    except FluxConditionError as exc:
        assume(not any(g in str(exc) for g in GUARDS))
        return "error", type(exc.__cause__).__name__


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_random_expressions_match_python(text: str) -> None:
    expected = python_eval(text, make_domain())
    actual = flux_eval(text, make_domain())
    if expected[0] == "ok" and actual[0] == "ok":
        assert repr(actual[1]) == repr(expected[1]), text
        assert type(actual[1]) is type(expected[1]), text
    else:
        # Both fail (the exact type may differ: a missing field is a LookupError here).
        assert actual[0] == expected[0] == "error", (text, expected, actual)


@given(st.integers(), st.integers(), st.sampled_from(["<", "<=", "==", "!=", ">", ">="]))
def test_integer_comparisons_match_python(a: int, b: int, op: str) -> None:
    text = f"domain.a {op} domain['b']"
    domain = AttrDict(a=a, b=b)
    assert compile_condition(text).evaluate({"domain": domain}) == python_eval(text, domain)[1]
