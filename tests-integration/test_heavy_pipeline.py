"""A heavy-array pipeline: an array in managed shared memory flows through processes by
reference; inputs are read-only views, outputs are writable, nothing is copied."""

from __future__ import annotations

import numpy as np
import pytest

from theus import TheusEngine, process


@process(inputs=["domain.heavy_frame"], outputs=["domain.heavy_frame"])
def normalise(ctx):  # type: ignore[no-untyped-def]
    frame = ctx.domain.heavy_frame
    frame -= frame.mean()  # in place: HEAVY outputs are writable, write-through


@process(inputs=["domain.heavy_frame"], outputs=["domain.stats"])
def stats(ctx):  # type: ignore[no-untyped-def]
    frame = ctx.domain.heavy_frame
    with pytest.raises(ValueError):
        frame[0, 0] = 1.0  # an input-only HEAVY view is read-only
    return {"mean": round(float(frame.mean()), 6), "shape": list(frame.shape)}


def test_heavy_pipeline_zero_copy() -> None:
    with TheusEngine({"domain": {"stats": None}}) as engine:
        frame = engine.heavy.alloc("frame", (256, 256), "float64")
        frame[:] = np.arange(256 * 256, dtype="float64").reshape(256, 256)
        with engine.transaction() as tx:
            tx.set("domain.heavy_frame", frame)
        assert engine.state.get("domain.heavy_frame") is frame  # by reference
        engine.register(normalise)
        engine.register(stats)
        engine.run_workflow("steps: [normalise, stats]")
        assert engine.state.get("domain.stats") == {"mean": 0.0, "shape": [256, 256]}
        assert abs(float(frame.mean())) < 1e-9  # the shared buffer itself changed
        assert "heavy_frame" not in engine.state.to_dict()["domain"]
