"""YAML input: a SafeLoader whose nodes keep their lines and whose booleans are strict.

``FluxLoader`` is ``yaml.SafeLoader`` with one change of schema: only ``true``/``false``
(any case style YAML 1.2 allows: ``true``, ``True``, ``TRUE``) are booleans, so
``on/off/yes/no/y/n`` stay strings (a process may well be called ``on``). The parser
works on the composed node graph, where every node keeps its ``start_mark``: each
error can name ``file:line``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from .exceptions import InvalidWorkflow

__all__ = ["FluxLoader", "compose", "node_line", "read_source"]

_BOOL_TAG = "tag:yaml.org,2002:bool"


class FluxLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (``true``/``false`` only)."""


FluxLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
FluxLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def node_line(node: yaml.Node | None) -> int:
    """1-based line of a node (0 if unknown, e.g. nodes built from plain data)."""
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else 0


def _error_line(exc: yaml.YAMLError) -> int:
    for attr in ("problem_mark", "context_mark"):
        mark = getattr(exc, attr, None)
        if mark is not None:
            return int(mark.line) + 1
    return 0


def yaml_error(source: str, exc: yaml.YAMLError) -> InvalidWorkflow:
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"invalid YAML: {context + ', ' if context else ''}{problem}"
    return InvalidWorkflow(source, _error_line(exc), detail)


def compose(text: str, source: str) -> tuple[FluxLoader, yaml.Node | None]:
    """Compose ``text`` into one node graph (``None`` for an empty document)."""
    loader = FluxLoader(text)
    try:
        return loader, loader.get_single_node()
    except yaml.YAMLError as exc:
        raise yaml_error(source, exc) from None
    finally:
        loader.dispose()


def _looks_like_path(text: str) -> bool:
    if "\n" in text or len(text) > 4096:
        return False
    if text.endswith((".yaml", ".yml")):
        return True
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def read_source(src: str | os.PathLike[str] | bytes, source: str | None) -> tuple[str, str]:
    """``(text, source label)`` for a path, YAML text or UTF-8 bytes.

    A missing file raises ``FileNotFoundError``; undecodable bytes ``InvalidWorkflow``.
    """
    if isinstance(src, os.PathLike) or (isinstance(src, str) and _looks_like_path(src)):
        path = Path(src)
        label = source or str(path)
        try:
            return path.read_text(encoding="utf-8"), label
        except UnicodeDecodeError as exc:
            raise InvalidWorkflow(label, 0, f"not UTF-8 text ({exc.reason})") from None
    if isinstance(src, bytes):
        label = source or "<bytes>"
        try:
            return src.decode("utf-8"), label
        except UnicodeDecodeError as exc:
            raise InvalidWorkflow(label, 0, f"not UTF-8 text ({exc.reason})") from None
    if not isinstance(src, str):
        raise TypeError(f"expected a path, YAML text or bytes, not {type(src).__name__}")
    return src, source or "<string>"
