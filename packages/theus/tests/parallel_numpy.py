"""A process module that needs numpy (which cannot load in a sub-interpreter)."""

from __future__ import annotations

from typing import Any

import numpy as np


def total(ctx: Any, n: int) -> float:
    return float(np.arange(n).sum())
