"""The condition compiler: an allow-listed AST walk that builds nested closures.

See ``_condition`` for the language and the rules; run-time helpers are in
``_cond_runtime``.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Callable
from typing import Any, NoReturn

from ._cond_runtime import (
    BINOPS,
    CMPOPS,
    CONTEXT_NAMES,
    FUNCTIONS,
    UNARYOPS,
    context_value,
    get,
    lookup,
)
from .exceptions import InvalidWorkflow

__all__ = ["Compiler", "Fn"]

Fn = Callable[[Any], Any]

MAX_DEPTH = 100
_GLOBAL_PLACEHOLDER = "_globl"  # same length as "global": AST columns stay right
_REJECTED_WORDS: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression",
    ast.NamedExpr: "assignment expression (:=)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.JoinedStr: "f-string",
    ast.Dict: "dict literal",
    ast.Set: "set literal",
    ast.Starred: "starred expression",
}


def _rename_global(src: str, source: str, line: int) -> str:
    """Replace the name token ``global`` by a same-length placeholder."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, SyntaxError):
        return src  # ast.parse reports the syntax error
    cols: list[int] = []
    for tok in tokens:
        if tok.type == tokenize.NAME:
            if tok.string == _GLOBAL_PLACEHOLDER:
                raise InvalidWorkflow(
                    source, line, f"unknown name {tok.string!r} in condition", tok.string
                )
            if tok.string == "global" and tok.start[0] == 1:
                cols.append(tok.start[1])
    for col in reversed(cols):
        src = src[:col] + _GLOBAL_PLACEHOLDER + src[col + len("global") :]
    return src


class Compiler:
    def __init__(self, src: str, source: str, line: int) -> None:
        self.src = src
        self.source = source
        self.line = line

    def reject(self, detail: str, token: str) -> NoReturn:
        raise InvalidWorkflow(self.source, self.line, f"{detail} in condition", token)

    def segment(self, node: ast.AST) -> str:
        text = ast.get_source_segment(self.src, node) or type(node).__name__
        return text.replace(_GLOBAL_PLACEHOLDER, "global")

    def compile_text(self) -> Fn:
        src = _rename_global(self.src, self.source, self.line)
        try:
            tree = ast.parse(src, mode="eval")
        except SyntaxError as exc:
            col = f" at column {exc.offset}" if exc.offset else ""
            token = self.src[(exc.offset or 1) - 1 :][:20] if exc.offset else self.src[:20]
            self.reject(f"invalid syntax ({exc.msg}){col}", token)
        except (ValueError, RecursionError, MemoryError) as exc:
            self.reject(f"unparsable ({type(exc).__name__})", self.src[:20])
        self.src = src
        return self.compile(tree.body, 0)

    # -- dispatch
    def compile(self, node: ast.expr, depth: int) -> Fn:
        if depth > MAX_DEPTH:
            self.reject(f"expression nested deeper than {MAX_DEPTH} levels", self.segment(node))
        method = getattr(self, "c_" + type(node).__name__, None)
        if method is None:
            word = _REJECTED_WORDS.get(type(node), f"{type(node).__name__} expression")
            self.reject(f"{word} not allowed", self.segment(node))
        fn: Fn = method(node, depth + 1)
        return fn

    @staticmethod
    def constant(node: ast.expr) -> tuple[bool, Any]:
        if isinstance(node, ast.Constant):
            return True, node.value
        return False, None

    # -- leaves
    def c_Constant(self, node: ast.Constant, depth: int) -> Fn:
        value = node.value
        if value is not None and type(value) not in (bool, int, float, str):
            self.reject(f"{type(value).__name__} literal not allowed", self.segment(node))

        def constant(ctx: Any) -> Any:
            return value

        return constant

    def c_Name(self, node: ast.Name, depth: int) -> Fn:
        name = "global" if node.id == _GLOBAL_PLACEHOLDER else node.id
        if name in FUNCTIONS:
            self.reject(f"function {name!r} can only be called", name)
        if name not in CONTEXT_NAMES:
            allowed = "domain, global, signal, meta"
            self.reject(f"unknown name {name!r} (allowed: {allowed})", name)
        if len(CONTEXT_NAMES[name]) == 1:
            key = name
            missing = f"name {name!r} is not in the context"

            def context_name(ctx: Any) -> Any:
                if type(ctx) is dict:
                    try:
                        return ctx[key]
                    except KeyError:
                        raise LookupError(missing) from None
                return context_value(ctx, key)

            return context_name

        def context_alias(ctx: Any) -> Any:
            return context_value(ctx, name)

        return context_alias

    # -- access
    def c_Attribute(self, node: ast.Attribute, depth: int) -> Fn:
        base = self.compile(node.value, depth)  # the leftmost offence is reported
        key = "global" if node.attr == _GLOBAL_PLACEHOLDER else node.attr
        if key.startswith("_"):
            self.reject(f"private or dunder attribute '.{key}' not allowed", "." + key)
        return self.field(node, base, key)

    def field(self, node: ast.expr, base: Fn, key: str) -> Fn:
        what = self.segment(node)

        def field(ctx: Any) -> Any:
            obj = base(ctx)
            try:
                if type(obj) is dict:
                    return obj[key]
                return lookup(obj, key)
            except (LookupError, AttributeError, TypeError):
                raise LookupError(
                    f"{what} is missing (no field {key!r} in {type(obj).__name__})"
                ) from None

        return field

    def c_Subscript(self, node: ast.Subscript, depth: int) -> Fn:
        base = self.compile(node.value, depth)
        index = node.slice
        if isinstance(index, ast.Slice):
            return self.slice(base, index, depth)
        is_const, key = self.constant(index)
        if is_const and isinstance(key, str):
            if key.startswith("__"):
                self.reject(f"dunder key {key!r} not allowed", repr(key))
            self.compile(index, depth)  # type check only
            return self.field(node, base, key)
        key_fn = self.compile(index, depth)
        what = self.segment(node)

        def item(ctx: Any) -> Any:
            obj = base(ctx)
            k = key_fn(ctx)
            try:
                return lookup(obj, k)
            except (LookupError, AttributeError):
                raise LookupError(f"{what} is missing (no item {k!r})") from None

        return item

    def slice(self, base: Fn, node: ast.Slice, depth: int) -> Fn:
        parts = [
            None if part is None else self.compile(part, depth)
            for part in (node.lower, node.upper, node.step)
        ]
        lower, upper, step = parts

        def sliced(ctx: Any) -> Any:
            return base(ctx)[
                slice(
                    None if lower is None else lower(ctx),
                    None if upper is None else upper(ctx),
                    None if step is None else step(ctx),
                )
            ]

        return sliced

    def c_Call(self, node: ast.Call, depth: int) -> Fn:
        if node.keywords:
            self.reject("keyword arguments not allowed", self.segment(node.keywords[0]))
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.reject("starred arguments not allowed", self.segment(arg))
        func = node.func
        if isinstance(func, ast.Attribute):
            obj = self.compile(func.value, depth)  # the receiver's offences come first
            if func.attr != "get":
                self.reject(f"method '.{func.attr}()' not allowed (only .get)", "." + func.attr)
            if not 1 <= len(node.args) <= 2:
                self.reject(".get takes 1 or 2 arguments", self.segment(node))
            key = self.compile(node.args[0], depth)
            if len(node.args) == 1:

                def get1(ctx: Any) -> Any:
                    return get(obj(ctx), key(ctx))

                return get1
            default = self.compile(node.args[1], depth)

            def get2(ctx: Any) -> Any:
                return get(obj(ctx), key(ctx), default(ctx))

            return get2
        if not isinstance(func, ast.Name):
            self.reject("only the allowed functions may be called", self.segment(func))
        name = func.id
        if name not in FUNCTIONS:
            self.reject(f"call of {name!r} not allowed", name)
        target, low, high = FUNCTIONS[name]
        count = len(node.args)
        if count < low or (high is not None and count > high):
            self.reject(f"wrong number of arguments for {name}()", self.segment(node))
        args = [self.compile(arg, depth) for arg in node.args]
        if count == 1:
            (a,) = args

            def call1(ctx: Any) -> Any:
                return target(a(ctx))

            return call1
        if count == 2:
            a, b = args

            def call2(ctx: Any) -> Any:
                return target(a(ctx), b(ctx))

            return call2

        def call(ctx: Any) -> Any:
            return target(*[f(ctx) for f in args])

        return call

    # -- operators
    def c_BinOp(self, node: ast.BinOp, depth: int) -> Fn:
        op = BINOPS.get(type(node.op))
        if op is None:
            self.reject("operator not allowed", self.segment(node))
        left = self.compile(node.left, depth)
        is_const, value = self.constant(node.right)
        if is_const:
            self.compile(node.right, depth)  # type check only

            def binop_const(ctx: Any) -> Any:
                return op(left(ctx), value)

            return binop_const
        right = self.compile(node.right, depth)

        def binop(ctx: Any) -> Any:
            return op(left(ctx), right(ctx))

        return binop

    def c_UnaryOp(self, node: ast.UnaryOp, depth: int) -> Fn:
        op = UNARYOPS.get(type(node.op))
        if op is None:
            self.reject("operator '~' not allowed", self.segment(node))
        operand = self.compile(node.operand, depth)

        def unary(ctx: Any) -> Any:
            return op(operand(ctx))

        return unary

    def c_BoolOp(self, node: ast.BoolOp, depth: int) -> Fn:
        fns = [self.compile(value, depth) for value in node.values]
        is_and = isinstance(node.op, ast.And)
        result = fns[-1]
        for first in reversed(fns[:-1]):
            result = _and(first, result) if is_and else _or(first, result)
        return result

    def c_Compare(self, node: ast.Compare, depth: int) -> Fn:
        ops = [CMPOPS[type(op)] for op in node.ops]
        left = self.compile(node.left, depth)
        rights = [self.compile(c, depth) for c in node.comparators]
        if len(ops) == 1:
            op = ops[0]
            is_const, value = self.constant(node.comparators[0])
            if is_const:

                def compare_const(ctx: Any) -> Any:
                    return op(left(ctx), value)

                return compare_const
            right = rights[0]

            def compare(ctx: Any) -> Any:
                return op(left(ctx), right(ctx))

            return compare
        pairs = list(zip(ops, rights, strict=True))

        def chain(ctx: Any) -> Any:
            a = left(ctx)
            result: Any = True
            for op, fn in pairs:
                b = fn(ctx)
                result = op(a, b)
                if not result:
                    return result
                a = b
            return result

        return chain

    def c_IfExp(self, node: ast.IfExp, depth: int) -> Fn:
        test = self.compile(node.test, depth)
        body = self.compile(node.body, depth)
        orelse = self.compile(node.orelse, depth)

        def if_exp(ctx: Any) -> Any:
            return body(ctx) if test(ctx) else orelse(ctx)

        return if_exp

    def c_List(self, node: ast.List, depth: int) -> Fn:
        elts = [self.compile(e, depth) for e in node.elts]

        def make_list(ctx: Any) -> Any:
            return [f(ctx) for f in elts]

        return make_list

    def c_Tuple(self, node: ast.Tuple, depth: int) -> Fn:
        elts = [self.compile(e, depth) for e in node.elts]

        def make_tuple(ctx: Any) -> Any:
            return tuple([f(ctx) for f in elts])

        return make_tuple


def _and(first: Fn, rest: Fn) -> Fn:
    def and_(ctx: Any) -> Any:
        value = first(ctx)
        return rest(ctx) if value else value

    return and_


def _or(first: Fn, rest: Fn) -> Fn:
    def or_(ctx: Any) -> Any:
        value = first(ctx)
        return value if value else rest(ctx)

    return or_
