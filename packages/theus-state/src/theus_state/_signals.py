"""SIGNAL fields across versions: which a commit made, and clearing them afterwards.

Rules / theory of operation:
- A commit's signals are its SIGNAL-zone writes (not deletions), in write order, with the
  values written (``commit_signals``). They are present in that commit's snapshot and
  absent from every later one.
- The *scope* of a signal path is the outermost SIGNAL mapping holding it: the path up
  to the segment that selected the zone (``domain.sig_t`` for ``domain.sig_t.p``). A
  later commit removes the whole scope, so a mapping a signal write created on its way
  goes with it; what that later commit itself wrote inside the scope (its own signals)
  is set again, in write order, on the emptied scope.
- A live commit (``_commit``) and a journal replay (``_sqlite_rows``) clear signals with
  the same function, so a version read back is the version that was committed.
- A root without its commit record (version 0: the context's own SIGNAL fields, routed
  to the top of their zone) gives its signals by walking it (``signals_in``), ordered
  by path -- as the store orders a context's own signals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from ._frozen import Node, out
from ._paths import _CACHE, ParsedPath, Zone, parse_path, zone_of_key
from ._tree import tree_delete, tree_set
from ._writes import DELETED

__all__ = ["clear_signals", "commit_signals", "signal_scope", "signals_in"]

_SIGNAL = Zone.SIGNAL
Entry = tuple[ParsedPath, Any]


def signal_scope(text: str) -> tuple[str, ...]:
    """The keys of the outermost SIGNAL mapping that holds the signal path ``text``."""
    p = _CACHE.get(text) or parse_path(text)
    return p.keys[: p.zone_depth + 1]


def commit_signals(writes: Mapping[str, Entry]) -> dict[str, Entry]:
    """The signals of a commit with these writes: ``path -> (parsed path, frozen value)``."""
    return {
        text: entry
        for text, entry in writes.items()
        if entry[0].zone is _SIGNAL and entry[1] is not DELETED
    }


def clear_signals(
    root: Node[str, Any], previous: Iterable[str], new: Mapping[str, Entry]
) -> Node[str, Any]:
    """``root`` without the signals ``previous`` (paths) of the commit before, keeping
    the signals ``new`` of this commit (see the module docstring)."""
    done: set[tuple[str, ...]] = set()
    for text in previous:
        scope = signal_scope(text)
        if scope in done:
            continue
        done.add(scope)
        with contextlib.suppress(KeyError):
            root = tree_delete(root, scope)
        if new:
            prefix = ".".join(scope)
            dotted = prefix + "."
            for t, (p, value) in new.items():
                if t == prefix or t.startswith(dotted):
                    root = tree_set(root, p.keys, value)
    return root


def signals_in(root: Node[str, Any]) -> dict[str, Any]:
    """The SIGNAL fields of a root made without a commit record (the scopes it holds)."""
    found: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if type(node) is not Node:
            return
        for k, v in node.items():
            if type(k) is not str:
                continue
            path = f"{prefix}.{k}" if prefix else k
            zone = zone_of_key(k)
            if zone is _SIGNAL:
                found[path] = out(v)
            elif zone is None or not prefix:
                walk(v, path)

    walk(root, "")
    return dict(sorted(found.items()))  # (a mapping's order is not kept: by path)
