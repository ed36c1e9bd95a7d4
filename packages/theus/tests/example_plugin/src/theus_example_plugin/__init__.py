"""A Theus plugin loaded through the ``theus`` entry-point group (test fixture)."""

from __future__ import annotations

from typing import Any

import pluggy

import theus_state

hookimpl = pluggy.HookimplMarker("theus")


class ExamplePlugin:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def theus_process_after(self, process: Any, version: int) -> None:
        self.events.append(("after", process.name))

    @theus_state.hookimpl
    def theus_state_commit(self, version: int) -> None:  # a leaf hook, relayed
        self.events.append(("state_commit", version))


plugin = ExamplePlugin()
