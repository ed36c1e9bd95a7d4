"""Finding ``@process`` functions in modules, files and directories."""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._contracts import spec_of
from .exceptions import TheusError

__all__ = ["scan_target"]


def _from_module(module: types.ModuleType) -> list[Callable[..., Any]]:
    found = []
    for _name, obj in inspect.getmembers(module):
        if spec_of(obj) is not None and getattr(obj, "__module__", None) == module.__name__:
            found.append(obj)
    return found


def _import_file(path: Path) -> types.ModuleType:
    """Import ``path`` by module name with its folder on ``sys.path`` (so that worker
    processes can import it again by the same name)."""
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    module = sys.modules.get(name)
    if module is not None:
        origin = getattr(module, "__file__", None)
        if origin is None or Path(origin).resolve() != path.resolve():
            raise TheusError(
                f"cannot scan {path}: a different module named {name!r} is already imported"
            )
        return module
    return importlib.import_module(name)


def scan_target(target: Any) -> list[Callable[..., Any]]:
    if isinstance(target, types.ModuleType):
        return _from_module(target)
    if isinstance(target, (str, Path)):
        path = Path(target)
        if path.is_dir():
            found: list[Callable[..., Any]] = []
            for file in sorted(path.glob("*.py")):
                if file.name.startswith(("test_", "_")) or file.name == "conftest.py":
                    continue
                found.extend(_from_module(_import_file(file)))
            return found
        if path.suffix == ".py":
            if not path.is_file():
                raise TheusError(f"cannot scan {path}: no such file")
            return _from_module(_import_file(path))
        if isinstance(target, str):
            try:
                return _from_module(importlib.import_module(target))
            except ImportError as exc:
                raise TheusError(f"cannot scan {target!r}: {exc}") from exc
    raise TheusError(
        f"cannot scan {target!r}: expected a module, a module name, a .py file or a directory"
    )
