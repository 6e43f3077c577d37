"""Inlet–outlet connectivity of the pore and solid phases (docs/method.md §2).

A phase *percolates* along an axis when one 6-connected (face-connected) cluster of its voxels
touches both the inlet face (index 0) and the outlet face (index N − 1) of that axis. Opposite
faces are not joined through the periodic wrap. Each phase is labelled once
(``scipy.ndimage.label``) and the labels on the six faces answer all three axes.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["percolating_axes", "is_bicontinuous"]

_FACE_CONNECTIVITY = ndimage.generate_binary_structure(3, 1)


def percolating_axes(phase: np.ndarray) -> tuple[bool, bool, bool]:
    """Whether the phase connects inlet to outlet along x, y and z.

    Parameters
    ----------
    phase
        Boolean (or 0/1) array, shape ``(N_x, N_y, N_z)``, True where the phase is present.
    """
    labels, count = ndimage.label(phase, structure=_FACE_CONNECTIVITY)
    if count == 0:
        return (False, False, False)
    result = []
    for axis in range(3):
        inlet = np.unique(np.take(labels, 0, axis=axis))
        outlet = np.unique(np.take(labels, -1, axis=axis))
        shared = np.intersect1d(inlet, outlet, assume_unique=True)
        result.append(bool(np.any(shared > 0)))
    return (result[0], result[1], result[2])


def is_bicontinuous(structure: np.ndarray) -> bool:
    """True when pore (0) and solid (1) both percolate along all three axes.

    ``structure``: uint8 array ``(N, N, N)``, 1 = solid, 0 = pore.
    """
    solid = structure.astype(bool)
    return all(percolating_axes(~solid)) and all(percolating_axes(solid))
