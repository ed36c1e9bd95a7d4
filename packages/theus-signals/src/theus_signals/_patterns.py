"""Validation of topics and compilation of subscription patterns (fnmatch globs)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

Matcher = Callable[[str], object]


def check_topic(topic: object) -> str:
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a str, not {type(topic).__name__}: {topic!r}")
    if not topic:
        raise ValueError("topic must be a non-empty string")
    return topic


def compile_pattern(pattern: object) -> Matcher:
    """Compile an fnmatch glob once (case-sensitive; ``*`` crosses dots)."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str, not {type(pattern).__name__}: {pattern!r}")
    if not pattern:
        raise ValueError("pattern must be a non-empty glob (use '*' for every topic)")
    if pattern == "*":
        return _match_all
    if not any(c in pattern for c in "*?["):
        return pattern.__eq__
    return re.compile(fnmatch.translate(pattern)).match


def _match_all(topic: str) -> bool:
    return True
