"""The position of a run: where it stands, as a plain, serialisable value.

A position names the last step a run completed (its step path, e.g. ``steps[2].do[1]``),
the iteration counters of the ``while`` loops around that step (outermost first), and
the number of operations counted so far (so a resumed run keeps its ``max_ops`` budget).

``waiting=True`` marks the one position that is *not* "after a completed step": a run
that paused at a ``flux: wait`` step reports the wait step itself, and resuming from it
evaluates the wait's ``until`` condition again.

``workflow`` is the fingerprint of the workflow the position belongs to; resuming a
different workflow from it is refused (an empty fingerprint skips that check).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Position"]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a run stands; pass it to ``FluxRunner.run(ctx, resume_from=...)``."""

    step_path: str
    loops: tuple[int, ...] = ()
    ops: int = 0
    waiting: bool = False
    workflow: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (``Position.from_dict`` reads it back)."""
        return {
            "step_path": self.step_path,
            "loops": list(self.loops),
            "ops": self.ops,
            "waiting": self.waiting,
            "workflow": self.workflow,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Position:
        """Rebuild a position from ``to_dict()`` output; bad data raises ``ValueError``."""
        try:
            step_path = data["step_path"]
            loops = tuple(data.get("loops", ()))
            ops = data.get("ops", 0)
            waiting = data.get("waiting", False)
            workflow = data.get("workflow", "")
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a flux position: {data!r}") from exc
        if (
            not isinstance(step_path, str)
            or not all(type(n) is int and n >= 0 for n in loops)
            or type(ops) is not int
            or ops < 0
            or not isinstance(waiting, bool)
            or not isinstance(workflow, str)
        ):
            raise ValueError(f"not a flux position: {data!r}")
        return cls(step_path, loops, ops, waiting, workflow)
