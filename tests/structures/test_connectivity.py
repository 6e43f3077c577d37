"""Tests of spinodoid.structures.connectivity (voxel and face graphs) on hand-built structures."""

import numpy as np
import pytest

from spinodoid.solvers import lbm, subvoxel
from spinodoid.solvers.fv import fv_diffusivity
from spinodoid.structures.connectivity import (
    NonPercolatingError,
    face_graph,
    is_bicontinuous,
    percolates,
    percolating_axes,
    percolating_voxels,
    voxel_graph,
)
from spinodoid.structures.grf import generate_structure


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


def test_periodic_percolation_through_the_lateral_wrap():
    solid = np.ones((8, 8, 8), np.uint8)
    solid[:4, 0] = 0
    solid[3:, 7] = 0
    assert percolating_axes(solid == 0, periodic=True)[0]
    assert not percolating_axes(solid == 0, periodic=False)[0]


def _partly_open_layer() -> np.ndarray:
    """Pore (ψ = −1) cut by a layer x = 3 of solid-centred voxels; at y = 0, 1 that layer's
    ψ = 0.5 leaves the faces into and out of it partly open (trilinear interpolation)."""
    psi = np.full((8, 4, 4), -1.0, np.float32)
    psi[3] = 3.0
    psi[3, :2] = 0.5
    return psi


def test_face_graph_connects_through_a_partly_open_face():
    psi = _partly_open_layer()
    codes = subvoxel.face_open_fractions(psi)
    assert 0 < codes[0, 2, 0, 0] < 64 and 0 < codes[0, 3, 1, 0] < 64
    assert not percolates(voxel_graph(psi < 0), 0, periodic=True)
    assert percolates(face_graph(codes), 0, periodic=True)
    fv = fv_diffusivity((psi >= 0).view(np.uint8), 0, level_set=psi)
    run = lbm.lbm_diffusivity(None, level_set=psi, flux_change_tol=1e-7, max_steps_per_voxel=4000)
    assert fv.eta > 0 and run.converged[0]
    assert run.eta[0] == pytest.approx(fv.eta, rel=1e-4)


def test_face_graph_blocked_by_closed_faces_between_pore_voxels():
    """A one-voxel pore channel: its voxels connect, but each face between two of them
    interpolates to > 0 (6 of the 8 centres around a corner are solid), so nothing conducts."""
    psi = np.ones((8, 4, 4), np.float32)
    psi[:, 1, 1] = -0.1
    assert percolates(voxel_graph(psi < 0), 0, periodic=True)
    codes = subvoxel.face_open_fractions(psi)
    assert not codes[0, :, 1, 1].any()
    assert not percolates(face_graph(codes), 0, periodic=True)
    with pytest.raises(NonPercolatingError):
        fv_diffusivity((psi >= 0).view(np.uint8), 0, level_set=psi)
    with pytest.raises(NonPercolatingError):
        lbm.lbm_diffusivity(None, level_set=psi)


def test_face_graph_of_voxel_links_is_the_voxel_graph():
    """The face-graph labelling on links derived from a phase answers as the voxel graph."""
    phase = generate_structure((0.1, 0.12, 0.15, 0.35), 3, 24) == 0
    links = np.stack([phase & np.roll(phase, -1, axis=d) for d in range(3)])
    for periodic in (False, True):
        for axis in range(3):
            expected = percolating_voxels(voxel_graph(phase), axis, periodic)
            assert np.array_equal(percolating_voxels(face_graph(links), axis, periodic), expected)
