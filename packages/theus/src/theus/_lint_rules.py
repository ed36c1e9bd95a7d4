"""Vocabulary of ``theus check`` (see :mod:`theus._lint`): findings, what counts as a
mutation or an I/O call, contract paths read from ``@process`` decorators, and the
engine's coverage rule (a declared path covers its subtree; globs match per segment)."""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass

__all__ = [
    "BY_PATH",
    "IO_CALLS",
    "IO_METHODS",
    "IO_MODULES",
    "LAYERS",
    "MUTATORS",
    "SKIP_DIRS",
    "Contract",
    "Finding",
    "contract_of",
    "covers",
    "dotted",
    "is_heavy",
    "leads_to",
    "normalize",
]

BY_PATH = frozenset({"heavy", "signal", "meta"})
LAYERS = {"domain": "domain", "domain_ctx": "domain", "global_": "global", "global_ctx": "global"}
MUTATORS = frozenset(
    {
        "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault",
        "popitem", "add", "discard", "sort", "reverse", "fill", "resize", "put", "itemset",
        "__setitem__", "__delitem__",
    }
)  # fmt: skip
IO_CALLS = frozenset(
    {
        "open", "print", "input", "breakpoint", "os.system", "os.popen", "os.remove",
        "os.unlink", "os.rename", "os.mkdir", "os.makedirs", "os.rmdir", "os.write",
        "os.read", "io.open", "time.sleep", "asyncio.sleep", "sys.stdout.write",
        "sys.stderr.write", "builtins.open", "builtins.print",
    }
)  # fmt: skip
IO_MODULES = frozenset(
    {
        "requests", "socket", "subprocess", "urllib", "http", "httpx", "aiohttp", "shutil",
        "smtplib", "ftplib", "sqlite3", "webbrowser",
    }
)  # fmt: skip
IO_METHODS = frozenset(
    {"write_text", "write_bytes", "read_text", "read_bytes", "unlink", "mkdir", "rmdir", "touch"}
)
SKIP_DIRS = frozenset({".git", ".tox", ".venv", "venv", "__pycache__", "node_modules", "build"})


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code} {self.message}"


def covers(pattern: str, path: str) -> bool:
    pat, keys = pattern.split("."), path.split(".")
    if len(pat) > len(keys):
        return False
    return all(fnmatch.fnmatchcase(k, p) for p, k in zip(pat, keys, strict=False))


def is_heavy(path: str) -> bool:
    return any(seg.startswith("heavy_") for seg in path.split("."))


def leads_to(pattern: str, path: str) -> bool:
    pat, keys = pattern.split("."), path.split(".")
    if len(keys) >= len(pat):
        return False
    return all(fnmatch.fnmatchcase(k, p) for p, k in zip(pat, keys, strict=False))


def normalize(path: str) -> str:
    head, _, rest = path.partition(".")
    head = {"global_": "global", "global_ctx": "global"}.get(head, head)
    return f"{head}.{rest}" if rest else head


def _literal_paths(node: ast.expr) -> list[str] | None:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        out = []
        for elt in node.elts:
            if not (isinstance(elt, ast.Constant) and isinstance(elt.value, str)):
                return None
            out.append(normalize(elt.value))
        return out
    return None


def dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):  # Path("x").write_text(...)
        inner = dotted(node.func)
        if inner is not None:
            parts.append(inner)
            return ".".join(reversed(parts))
    return None


@dataclass
class Contract:
    name: str
    inputs: list[str] | None
    outputs: list[str] | None
    pure: bool


def contract_of(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Contract | None:
    for deco in fn.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = dotted(target)
        if name is None or name.rsplit(".", 1)[-1] != "process":
            continue
        inputs: list[str] | None = []
        outputs: list[str] | None = []
        pure = False
        proc_name = fn.name
        if isinstance(deco, ast.Call):
            for kw in deco.keywords:
                if kw.arg == "inputs":
                    inputs = _literal_paths(kw.value)
                elif kw.arg == "outputs":
                    outputs = _literal_paths(kw.value)
                elif kw.arg == "semantic":
                    text = ast.unparse(kw.value).lower()
                    pure = text.endswith(("pure", "pure'", 'pure"'))
                elif (
                    kw.arg == "name"
                    and isinstance(kw.value, ast.Constant)
                    and isinstance(kw.value.value, str)
                ):
                    proc_name = kw.value.value
        return Contract(proc_name, inputs, outputs, pure)
    return None
