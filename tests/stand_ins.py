"""Stand-in solvers for tests of the structure loops (a helper module, not a test file)."""

from __future__ import annotations

import numpy as np

#: θ at which some N = 24 structures fail the acceptance rule (seeds 2, 6, 10 of 0 … 10 pass).
SOMETIMES_DISCONNECTED = (0.15, 0.15, 0.3, 0.2)


def porosity_solver(voxels: np.ndarray, level_set: np.ndarray | None, axis: int) -> float:
    """A stand-in solver: porosity plus 0.01 per axis index (η of a straight channel + offset)."""
    return float(1.0 - voxels.mean()) + 0.01 * axis


class KilledAfter:
    """The stand-in solver, raising (as a killed job stops) after ``calls`` solves; ``solved``
    counts the solves it made."""

    def __init__(self, calls: int) -> None:
        self.left, self.solved = calls, 0

    def __call__(self, voxels, level_set, axis):
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        self.solved += 1
        return porosity_solver(voxels, level_set, axis)
