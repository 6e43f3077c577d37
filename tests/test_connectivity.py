"""Tests of spinodoid.connectivity on hand-built structures."""

import numpy as np

from spinodoid.connectivity import is_bicontinuous, percolating_axes
from spinodoid.structure import generate_structure


def channel_along_x(size: int = 8) -> np.ndarray:
    """Solid block with one straight 2x2 pore channel along x (uint8, 1 = solid)."""
    structure = np.ones((size, size, size), dtype=np.uint8)
    structure[:, 3:5, 3:5] = 0
    return structure


def test_straight_pore_channel_connects_only_along_its_axis():
    pore = channel_along_x() == 0
    assert percolating_axes(pore) == (True, False, False)


def test_single_voxel_layer_blocks_the_channel():
    structure = channel_along_x()
    structure[4] = 1
    assert percolating_axes(structure == 0) == (False, False, False)


def test_diagonal_contact_does_not_connect():
    """Edge-touching voxels are not face-connected (6-connectivity)."""
    pore = np.zeros((4, 4, 4), dtype=bool)
    pore[0:2, 0, 0] = True
    pore[2:4, 1, 1] = True
    assert percolating_axes(pore)[0] is False


def test_no_connection_through_the_periodic_wrap():
    pore = np.zeros((6, 6, 6), dtype=bool)
    pore[0:2, 2, 2] = True
    pore[4:6, 2, 2] = True
    assert percolating_axes(pore)[0] is False


def test_solid_that_falls_apart_is_not_bicontinuous():
    structure = np.zeros((8, 8, 8), dtype=np.uint8)
    structure[:, :, 0:2] = 1  # a solid slab in the x-y plane: solid spans x and y, not z
    structure[:, :, 4:6] = 1
    assert percolating_axes(structure == 1) == (True, True, False)
    assert percolating_axes(structure == 0) == (True, True, False)
    assert not is_bicontinuous(structure)


def test_empty_phase_percolates_nowhere():
    assert percolating_axes(np.zeros((4, 4, 4), dtype=bool)) == (False, False, False)


def test_typical_spinodoid_is_bicontinuous():
    assert is_bicontinuous(generate_structure((0.1, 0.12, 0.15, 0.55), 0, 64))
