"""A YAML loader for recipes: YAML 1.2 core scalars and source positions.

Rules of the loader:

- Booleans are only the YAML 1.2 spellings ``true``/``false`` (also ``True``/``TRUE``,
  ``False``/``FALSE``). ``on``, ``off``, ``yes``, ``no``, ``y``, ``n`` stay strings.
- Integers are decimal, ``0x`` hex or ``0o`` octal (no YAML 1.1 base-60 ``1:20`` and no
  leading-zero octal: ``0755`` is the integer 755). Floats accept ``1e3`` (YAML 1.2) and
  ``.inf``/``.nan``. ``null``/``~``/empty are ``None``. ISO dates and timestamps stay
  ``datetime.date``/``datetime.datetime`` so that ``min``/``max`` work on dates.
- Every mapping is a :class:`LocatedDict` remembering the line of each key, and every
  sequence a :class:`LocatedList` remembering the line of each item; a duplicate key is an
  error (YAML allows none, PyYAML silently keeps the last).
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

__all__ = ["LocatedDict", "LocatedList", "load_yaml"]


class LocatedDict(dict[Any, Any]):
    """A mapping from YAML with ``line`` (of the mapping) and ``key_lines`` (per key)."""

    line: int | None
    key_lines: dict[Any, int]


class LocatedList(list[Any]):
    """A sequence from YAML with ``line`` (of the sequence) and ``item_lines``."""

    line: int | None
    item_lines: list[int]


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class RecipeLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core resolvers and located containers."""


# Start from no implicit resolvers at all, then add the YAML 1.2 core set.
RecipeLoader.yaml_implicit_resolvers = {}

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TIMESTAMP = re.compile(
    r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
    (?:[Tt]|[ \t]+)[0-9][0-9]?
    :[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
    (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
    re.X,
)

RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:timestamp", _TIMESTAMP, list("0123456789"))
RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def _construct_int(loader: RecipeLoader, node: Node) -> int:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body.startswith("0x"):
        return sign * int(body[2:], 16)
    if body.startswith("0o"):
        return sign * int(body[2:], 8)
    return sign * int(body, 10)


def _construct_float(loader: RecipeLoader, node: Node) -> float:
    text = str(loader.construct_scalar(node)).lower()  # type: ignore[arg-type]
    if text.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    if text == ".nan":
        return math.nan
    return float(text)


def _construct_mapping(loader: RecipeLoader, node: Node) -> LocatedDict:
    assert isinstance(node, MappingNode)
    loader.flatten_mapping(node)
    data = LocatedDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key",
                key_node.start_mark,
            ) from None
        if key in data:
            raise _DuplicateKey(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1
    return data


def _construct_sequence(loader: RecipeLoader, node: Node) -> LocatedList:
    assert isinstance(node, SequenceNode)
    data = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    return data


RecipeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
RecipeLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
RecipeLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
RecipeLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_yaml(text: str) -> tuple[Any, int | None]:
    """Parse one YAML document; returns ``(data, line_of_root)``.

    Raises ``yaml.YAMLError`` (with ``problem_mark``) on a syntax error, a duplicate key or
    more than one document.
    """
    loader = RecipeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        line = node.start_mark.line + 1
        return loader.construct_document(node), line
    finally:
        loader.dispose()
