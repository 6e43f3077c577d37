"""Tests of the multigrid-preconditioned CG solver (spinodoid.solvers.multigrid,
multigrid_kernels)."""

import numpy as np
import pytest

from spinodoid.solvers import backend, fv, lbm
from spinodoid.solvers.diffusivity import (
    DiffusivityResult,
    DisconnectedStructureError,
    NotConvergedError,
    effective_diffusivity_xyz,
)
from spinodoid.solvers.multigrid import face_codes, multigrid_diffusivity
from spinodoid.structures.grf import level_set
from tests.geometries import (
    SERPENTINE,
    box_channel,
    carve,
    circular_channel,
    cylinder_array,
    sphere_array,
    straight_channel,
)

THETA_HAT_1 = (0.092, 0.135, 0.245, 0.666)  # the paper's case-1 design


def _theta_hat_1(size: int) -> np.ndarray:
    """θ̂₁ with a·192/N (the paper's voxels per feature at N = 192)."""
    theta = np.array(THETA_HAT_1)
    theta[:3] *= 192 / size
    return theta


@pytest.fixture(scope="module")
def grf_level_set() -> np.ndarray:
    """Ψ − T of θ̂₁ at N = 32, seed 0 (percolates along every axis)."""
    return level_set(_theta_hat_1(32), 0, 32)


@pytest.fixture(scope="module")
def grf(grf_level_set) -> np.ndarray:
    return (grf_level_set >= 0).view(np.uint8)


@pytest.mark.parametrize("lateral", ["periodic", "zero_flux"])
@pytest.mark.parametrize("subvoxel", [False, True])
def test_face_codes_are_the_finite_volume_conductances(grf, grf_level_set, lateral, subvoxel):
    """The conductances are spinodoid.solvers.fv's, face by face (staircase and open fractions)."""
    axis = 1
    psi = grf_level_set if subvoxel else None
    codes = face_codes(grf, axis, lateral, psi)
    pore = np.moveaxis(grf == 0, axis, 0)
    if subvoxel:
        bonds = fv._subvoxel_bonds(
            np.moveaxis(psi.astype(np.float64), axis, 0), lateral == "periodic"
        )
    else:
        bonds = fv._voxel_bonds(pore, lateral == "periodic")
    for d, (a, _, g) in enumerate(bonds):
        expected = np.zeros(pore.size)
        expected[a] = g
        np.testing.assert_array_equal(codes[d].ravel() / 64.0, expected)


@pytest.mark.parametrize("lateral", ["periodic", "zero_flux"])
@pytest.mark.parametrize("subvoxel", [False, True])
def test_grf_eta_equals_finite_volumes(grf, grf_level_set, lateral, subvoxel):
    psi = grf_level_set if subvoxel else None
    for axis in (0, 2):
        mg = multigrid_diffusivity(grf, axis, lateral, level_set=psi)
        ref = fv.fv_diffusivity(grf, axis, lateral, level_set=psi)
        assert mg.eta == pytest.approx(ref.eta, rel=1e-6)
        assert mg.unknowns == ref.unknowns
        np.testing.assert_allclose(mg.plane_flux, ref.plane_flux, rtol=2e-5)
        assert mg.residual <= 1e-6 and mg.flux_nonuniformity <= 1e-5


@pytest.mark.parametrize("lateral", ["periodic", "zero_flux"])
def test_grf_eta_equals_lbm(grf, grf_level_set, lateral):
    """The LBM's steady state is the same finite-volume system, staircase and sub-voxel: with
    the LBM converged well past its production tolerances, η agrees to 1e-5 (measured ≤ 2e-7)."""
    batch = np.stack([np.moveaxis(grf_level_set, axis, 0) for axis in range(3)])
    tight = dict(flux_change_tol=1e-8, flux_uniformity_tol=1e-6, max_steps_per_voxel=2000)
    staircase = lbm.lbm_diffusivity((batch >= 0).view(np.uint8), lateral=lateral, **tight).eta
    faces = lbm.lbm_diffusivity(None, lateral=lateral, level_set=batch, **tight).eta
    for axis in range(3):
        voxel = multigrid_diffusivity(grf, axis, lateral).eta
        sub = multigrid_diffusivity(grf, axis, lateral, level_set=grf_level_set).eta
        assert voxel == pytest.approx(staircase[axis], rel=1e-5)
        assert sub == pytest.approx(faces[axis], rel=1e-5)


def test_larger_non_power_of_two_grf_equals_finite_volumes():
    """N = 48: odd coarse grids (23, 12, 6 unknown layers) and partial blocks."""
    psi = level_set(_theta_hat_1(48), 1, 48)
    structure = (psi >= 0).view(np.uint8)
    for lateral in ("periodic", "zero_flux"):
        mg = multigrid_diffusivity(structure, 0, lateral, level_set=psi)
        ref = fv.fv_diffusivity(structure, 0, lateral, level_set=psi)
        assert mg.eta == pytest.approx(ref.eta, rel=1e-6)
        assert mg.levels >= 3


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("lateral", ["periodic", "zero_flux"])
def test_box_channel_eta_equals_porosity(axis, lateral):
    # odd periodic lateral lengths (7) exercise the plane-per-thread Gauss–Seidel order
    geometry = box_channel((9, 8, 7), axis, start=(1, 2), width=(3, 4))
    assert multigrid_diffusivity(geometry.structure, axis, lateral).eta == pytest.approx(
        geometry.eta, rel=1e-6
    )


def test_straight_channels_and_wrapping_channel():
    mask = np.random.default_rng(0).random((11, 9)) < 0.35
    geometry = straight_channel(mask, 1, length=10)
    assert multigrid_diffusivity(geometry.structure, 1).eta == pytest.approx(mask.mean(), rel=1e-6)
    wrap = box_channel((6, 10, 8), 2, start=(4, 8), width=(4, 5))
    assert multigrid_diffusivity(wrap.structure, 2).eta == pytest.approx(20 / 60, rel=1e-6)
    circle = circular_channel(40, 0, 13.2)
    assert multigrid_diffusivity(circle.structure, 0).eta == pytest.approx(circle.eta, rel=1e-6)


@pytest.mark.parametrize("lateral", ["periodic", "zero_flux"])
def test_cylinder_and_sphere_arrays_equal_finite_volumes(lateral):
    """Known-answer arrays (thin z axis of 1 voxel; sub-voxel walls) against
    spinodoid.solvers.fv."""
    for geometry in (cylinder_array(32, 0.4, cells=2, depth=1), sphere_array(16, 0.3, cells=2)):
        for psi in (None, geometry.level_set):
            mg = multigrid_diffusivity(geometry.structure, 0, lateral, level_set=psi)
            ref = fv.fv_diffusivity(geometry.structure, 0, lateral, level_set=psi)
            assert mg.eta == pytest.approx(ref.eta, rel=1e-6)
        assert mg.eta == pytest.approx(geometry.eta, rel=0.03)


def test_two_and_three_layer_domains():
    structure = np.ones((2, 4, 4), dtype=np.uint8)
    structure[:, 1, 1:3] = 0
    result = multigrid_diffusivity(structure, 0)
    assert result.unknowns == 0 and result.eta == pytest.approx(2 / 16, rel=1e-12)
    structure = np.ones((3, 4, 4), dtype=np.uint8)
    structure[:, 1, 1:3] = 0
    assert multigrid_diffusivity(structure, 0).eta == pytest.approx(2 / 16, rel=1e-6)


def test_barely_connected_serpentine_is_a_series_resistor():
    structure = carve((6, 5, 3), SERPENTINE)
    for lateral in ("periodic", "zero_flux"):
        result = multigrid_diffusivity(structure, 0, lateral)
        assert result.eta == pytest.approx((1 / 7) * 5 / 15, rel=1e-6)


def test_barely_connected_grf_equals_finite_volumes():
    """A structure joined by one narrow neck: one long path of single voxels through solid."""
    structure = np.ones((40, 24, 24), dtype=np.uint8)
    structure[:20, 4:20, 4:20] = 0  # a big inlet cavity ...
    structure[20:, 2:22, 2:22] = 0  # ... and a big outlet cavity ...
    structure[19:21] = 1
    structure[19:21, 12, 12] = 0  # ... joined through a single voxel-wide neck
    for lateral in ("periodic", "zero_flux"):
        mg = multigrid_diffusivity(structure, 0, lateral)
        ref = fv.fv_diffusivity(structure, 0, lateral)
        assert mg.eta == pytest.approx(ref.eta, rel=1e-6)
        assert mg.eta < 0.05  # the neck, not the cavities, sets η


def test_dead_ends_and_isolated_pores_carry_no_flux():
    extras = [(3, 3, 0), (3, 4, 0), (3, 0, 2), (0, 4, 2), (1, 4, 2), (5, 4, 2)]
    # dead-end branch, isolated voxel, clusters touching only the inlet or only the outlet
    structure = carve((6, 5, 3), SERPENTINE + extras)
    result = multigrid_diffusivity(structure, 0)
    assert result.eta == pytest.approx((1 / 7) * 5 / 15, rel=1e-6)
    assert result.unknowns == 8  # 6 on the path, 2 on the dead end (as spinodoid.solvers.fv)


def test_grf_with_many_dead_end_and_floating_clusters(grf_level_set):
    """Pore islands in the solid, and a percolating space with dead ends: floating clusters
    (a singular block if kept) are removed, dead ends kept; η and unknowns as
    spinodoid.solvers.fv."""
    structure = (grf_level_set >= 0.25 * grf_level_set.std()).view(np.uint8)
    islands = (structure == 1) & (np.random.default_rng(1).random(structure.shape) < 0.02)
    structure = np.where(islands, 0, structure).astype(np.uint8)
    mg = multigrid_diffusivity(structure, 0)
    ref = fv.fv_diffusivity(structure, 0)
    assert mg.eta == pytest.approx(ref.eta, rel=1e-6)
    assert mg.unknowns == ref.unknowns < (structure[1:-1] == 0).sum()


def test_path_through_the_periodic_wrap_and_disconnection():
    path = [(0, 0, 1), (1, 0, 1), (2, 0, 1), (2, 4, 1), (3, 4, 1), (4, 4, 1)]
    structure = carve((5, 5, 3), path)
    assert multigrid_diffusivity(structure, 0).eta == pytest.approx((1 / 5) * 4 / 15, rel=1e-6)
    with pytest.raises(DisconnectedStructureError):
        multigrid_diffusivity(structure, 0, "zero_flux")


def test_iterations_do_not_grow_with_size():
    """θ̂₁-like structures (a·192/N) at N = 32, 64, 128: the CG iteration count stays flat."""
    iterations = {}
    for size in (32, 64, 128):
        psi = level_set(_theta_hat_1(size), 0, size)
        result = multigrid_diffusivity((psi >= 0).view(np.uint8), 0, level_set=psi)
        iterations[size] = result.iterations
    assert iterations[128] <= 1.5 * iterations[32], iterations
    assert max(iterations.values()) <= 12, iterations


def test_same_bits_on_every_call(grf, grf_level_set):
    """Also after a solve of another shape in the reused workspace."""
    first = multigrid_diffusivity(grf, 1, level_set=grf_level_set)
    multigrid_diffusivity(box_channel((12, 9, 10), 0, (1, 1), (5, 6)).structure, 0)
    again = multigrid_diffusivity(grf, 1, level_set=grf_level_set)
    assert first.eta == again.eta
    np.testing.assert_array_equal(first.plane_flux, again.plane_flux)


def test_unconverged_solve_raises(grf):
    with pytest.raises(NotConvergedError, match="multigrid"):
        multigrid_diffusivity(grf, 0, maxiter=1)


def test_dispatcher_returns_the_common_result(grf, grf_level_set):
    results = effective_diffusivity_xyz(
        grf, (0, 2), solver="multigrid", interface="subvoxel", level_set=grf_level_set
    )
    assert all(isinstance(r, DiffusivityResult) and r.solver == "multigrid" for r in results)
    matched = fv.fv_diffusivity(grf, 2, level_set=grf_level_set, match_porosity=True).eta
    assert results[1].eta == pytest.approx(matched, rel=1e-6)  # the porosity-matched faces
    assert matched != pytest.approx(fv.fv_diffusivity(grf, 2, level_set=grf_level_set).eta)
    assert all(r.converged and r.flux_nonuniformity <= 1e-5 for r in results)


@pytest.mark.cuda
def test_cuda_matches_cpu(grf, grf_level_set):
    cpu = multigrid_diffusivity(grf, 0, level_set=grf_level_set, arch="cpu").eta
    gpu = multigrid_diffusivity(grf, 0, level_set=grf_level_set, arch="cuda").eta
    backend.init_backend("cpu")
    assert gpu == pytest.approx(cpu, rel=1e-6)
