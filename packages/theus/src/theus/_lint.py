"""``theus check``: a static POP linter over the AST of ``@process`` functions.

Rules / theory of operation:
- A function is a process when one of its decorators is ``process`` / ``x.process``
  (bare or called). Its contract is read from literal ``inputs=[...]``, ``outputs=[...]``
  and ``semantic=`` arguments; a contract that is not a literal list is not checked.
- The first parameter is the context. Chains ``ctx.domain.a["b"].c`` (also ``global_``,
  ``global_ctx``, ``domain_ctx``) become dotted paths (``domain.a.b.c``); a dynamic
  subscript ends the chain. A local name bound to such a chain (``items = ctx.domain.items``)
  is an alias of its path for the rest of the function.
- TH001: a read of a path not covered by inputs or outputs (a proper prefix of a declared
  path is navigation and is fine). TH002: a write/delete of a path not covered by
  outputs. TH003: in-place mutation of a value read from the context (mutating method,
  item or attribute assignment on it): the engine hands out immutable values, so this
  fails at run time; build a new value and assign or return it (HEAVY outputs excepted:
  they are writable arrays, written through). TH004: an I/O call (files,
  printing, network, subprocesses, sleeping) in a PURE process. TH000: a file that does
  not parse.
- Coverage uses the engine's rule: a declared path covers its whole subtree, globs match
  per segment.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from ._lint_rules import (
    BY_PATH,
    IO_CALLS,
    IO_METHODS,
    IO_MODULES,
    LAYERS,
    MUTATORS,
    SKIP_DIRS,
    Contract,
    Finding,
    contract_of,
    covers,
    dotted,
    is_heavy,
    leads_to,
    normalize,
)

__all__ = ["Finding", "lint_file", "lint_paths", "lint_source"]


class _ProcessVisitor(ast.NodeVisitor):
    def __init__(
        self, file: str, fn: ast.FunctionDef | ast.AsyncFunctionDef, contract: Contract,
        imports: dict[str, str],
    ) -> None:  # fmt: skip
        self.file = file
        self.contract = contract
        self.imports = imports
        args = fn.args.posonlyargs + fn.args.args
        self.ctx = args[0].arg if args else None
        self.aliases: dict[str, str] = {}
        self.findings: list[Finding] = []
        self.seen: set[tuple[int, str, str]] = set()

    # -- helpers ----------------------------------------------------------------------
    def add(self, node: ast.AST, code: str, message: str) -> None:
        line = getattr(node, "lineno", 0)
        key = (line, code, message)
        if key not in self.seen:
            self.seen.add(key)
            self.findings.append(Finding(self.file, line, code, message))

    def path_of(self, node: ast.expr) -> tuple[str, bool] | None:
        """(dotted context path, complete) for a chain rooted at ctx.<layer> or an alias;
        ``complete`` is False when a dynamic subscript cut the chain."""
        parts: list[str] = []
        complete = True
        cur = node
        while True:
            if isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            elif isinstance(cur, ast.Subscript):
                sl = cur.slice
                if isinstance(sl, ast.Constant) and isinstance(sl.value, str):
                    parts.append(sl.value)
                else:
                    parts = []  # a dynamic key: keep only what lies above it
                    complete = False
                cur = cur.value
            else:
                break
        if not isinstance(cur, ast.Name):
            return None
        parts.reverse()
        if cur.id == self.ctx and self.ctx is not None:
            if len(parts) >= 2 and parts[0] in BY_PATH and "." in parts[1]:
                # ctx.heavy["domain.heavy_x"], ctx.signal["domain.sig_y"]: full paths
                return ".".join([normalize(parts[1]), *parts[2:]]), complete
            if not parts or parts[0] not in LAYERS:
                return None
            return ".".join([LAYERS[parts[0]], *parts[1:]]), complete
        if cur.id in self.aliases:
            return ".".join([self.aliases[cur.id], *parts]), complete
        return None

    def allowed_read(self, path: str) -> bool:
        c = self.contract
        if c.inputs is None or c.outputs is None:
            return True
        declared = c.inputs + c.outputs
        return any(covers(p, path) or leads_to(p, path) for p in declared) or "." not in path

    def full_value(self, path: str) -> bool:
        c = self.contract
        return any(covers(p, path) for p in (c.inputs or []) + (c.outputs or []))

    def check_read(self, node: ast.AST, path: str) -> None:
        if not self.allowed_read(path):
            self.add(node, "TH001", f"read of {path!r} is not declared in inputs/outputs")

    def check_write(self, node: ast.AST, path: str, what: str = "write") -> None:
        outputs = self.contract.outputs
        if outputs is None:
            return
        if self.contract.pure:
            self.add(node, "TH002", f"{what} of {path!r} in a PURE process (PURE never writes)")
        elif not any(covers(p, path) for p in outputs):
            self.add(node, "TH002", f"{what} of {path!r} is not declared in outputs")

    def mutation(self, node: ast.AST, path: str, how: str) -> None:
        if is_heavy(path) and any(covers(p, path) for p in self.contract.outputs or []):
            return  # a HEAVY output is a writable, write-through array: in place is the point
        self.add(
            node,
            "TH003",
            f"in-place mutation of {path!r} ({how}): context values are immutable; "
            "build a new value and assign or return it",
        )

    # -- visitors -----------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.store(target)
        value = self.path_of(node.value) if isinstance(node.value, ast.expr) else None
        for target in node.targets:
            if isinstance(target, ast.Name):
                if value is not None and value[1] and self.allowed_read(value[0]):
                    self.aliases[target.id] = value[0]  # (an undeclared read is reported once)
                else:
                    self.aliases.pop(target.id, None)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        found = self.path_of(node.target) if not isinstance(node.target, ast.Name) else None
        if found is not None:
            self.check_read(node, found[0])
        self.store(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.store(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.store(target, delete=True)

    def store(self, target: ast.expr, *, delete: bool = False) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.store(elt, delete=delete)
            return
        if isinstance(target, ast.Starred):
            self.store(target.value, delete=delete)
            return
        if not isinstance(target, (ast.Attribute, ast.Subscript)):
            return
        found = self.path_of(target)
        what = "delete" if delete else "write"
        if found is None:
            return
        path, complete = found
        parent = self.path_of(target.value)
        if complete and parent is not None and self.full_value(parent[0]):
            # item/attribute assignment on a value (not a view): in-place mutation
            self.mutation(target, parent[0], f"{what} of an item")
            return
        if not complete:
            if self.full_value(path):
                self.mutation(target, path, f"{what} of an item")
            else:
                self.check_write(target, path, what)
            return
        self.check_write(target, path, what)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = self.path_of(func.value)
            if owner is not None:
                path = owner[0]
                self.check_read(func, path)
                if func.attr in MUTATORS and "." in path:
                    self.mutation(node, path, f".{func.attr}()")
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    self.visit(arg)
                return
        if self.contract.pure:
            self.check_io(node)
        self.generic_visit(node)

    def check_io(self, node: ast.Call) -> None:
        name = dotted(node.func)
        if name is None:
            return
        head, _, rest = name.partition(".")
        full = self.imports.get(head, head) + (f".{rest}" if rest else "")
        last = full.rsplit(".", 1)[-1]
        is_io = (
            full in IO_CALLS
            or full.split(".", 1)[0] in IO_MODULES
            or (isinstance(node.func, ast.Attribute) and last in IO_METHODS)
        )
        if is_io:
            self.add(
                node,
                "TH004",
                f"I/O call {full}() in PURE process {self.contract.name!r} "
                "(PURE processes compute only: use an EFFECT process or the outbox)",
            )

    def visit_Attribute(self, node: ast.Attribute) -> None:
        found = self.path_of(node)
        if found is not None and isinstance(node.ctx, ast.Load):
            self.check_read(node, found[0])
            return
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        found = self.path_of(node)
        if found is not None and isinstance(node.ctx, ast.Load):
            self.check_read(node, found[0])
            self.visit(node.slice)
            return
        self.generic_visit(node)


def _imports(tree: ast.Module) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def lint_source(source: str, file: str = "<string>") -> list[Finding]:
    """Findings for one module's source text."""
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError as exc:
        return [Finding(file, exc.lineno or 0, "TH000", f"syntax error: {exc.msg}")]
    imports = _imports(tree)
    findings: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            contract = contract_of(node)
            if contract is None:
                continue
            visitor = _ProcessVisitor(file, node, contract, imports)
            for stmt in node.body:
                visitor.visit(stmt)
            findings.extend(visitor.findings)
    return sorted(findings)


def lint_file(path: Path, display: str | None = None) -> list[Finding]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Finding(display or str(path), 0, "TH000", f"cannot read: {exc}")]
    return lint_source(source, display or str(path))


def _python_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts[:-1]
        if any(part in SKIP_DIRS or part.startswith(".") for part in rel):
            continue
        yield path


def lint_paths(paths: list[Path]) -> tuple[list[Finding], int]:
    """Findings for files and directories (recursively); also the number of files read."""
    findings: list[Finding] = []
    count = 0
    for root in paths:
        if not root.exists():
            raise FileNotFoundError(f"no such file or directory: {root}")
        for file in _python_files(root):
            count += 1
            findings.extend(lint_file(file))
    return findings, count
