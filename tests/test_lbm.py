"""Tests of the taichi D3Q7 TRT diffusion solver (spinodoid.lbm, spinodoid.lbm_kernels)."""

import numpy as np
import pytest

from spinodoid import lbm
from spinodoid.fv import fv_diffusivity
from spinodoid.structure import generate_structure
from tests.geometries import circular_channel, cylinder_array, rayleigh_cylinders


@pytest.fixture(scope="module")
def grf() -> np.ndarray:
    """A paper-like anisotropic structure at N = 32 that percolates in x."""
    return generate_structure((0.12, 0.16, 0.22, 0.6), 5, 32)


def test_relaxation_rates_keep_magic_lambda():
    for tau in (1.0, 16.0, 96.0):
        wp, wm = lbm.relaxation_rates(tau)
        assert (1 / wp - 0.5) * (1 / wm - 0.5) == pytest.approx(lbm.MAGIC_LAMBDA)
    with pytest.raises(ValueError):
        lbm.relaxation_rates(0.5)


def test_build_mask_marks_walls_and_dirichlet_layers():
    solid = np.zeros((1, 6, 4, 4), dtype=np.uint8)
    solid[0, 3, 1, 1] = 1
    mask = lbm.build_mask(solid)
    assert mask[0, 3, 1, 1] & 64 and mask[0, 0].all() and mask[0, -1].all()
    assert mask[0, 4, 1, 1] & 1  # +x population at (4,1,1) comes from the solid (3,1,1)
    assert mask[0, 2, 1, 1] & 2  # -x population at (2,1,1) comes from the solid (3,1,1)
    assert mask[0, 1, 0, 0] & 1 and mask[0, 1, 0, 0] & 128  # Dirichlet link at the inlet
    assert not mask[0, 2, 0, 0]  # bulk node
    zero_flux = lbm.build_mask(solid, lateral="zero_flux")
    assert zero_flux[0, 2, 0, 0] & 4 and not mask[0, 2, 0, 0] & 4


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_straight_channel_gives_porosity(axis):
    geometry = circular_channel(24, axis, 7.3)
    solid = np.moveaxis(geometry.structure, axis, 0)
    run = lbm.lbm_diffusivity(solid)
    assert run.converged[0]
    assert run.eta[0] == pytest.approx(geometry.eta, rel=1e-4)


def test_lbm_matches_finite_volumes_on_grf(grf):
    for lateral in ("periodic", "zero_flux"):
        run = lbm.lbm_diffusivity(grf, lateral=lateral)
        reference = fv_diffusivity(grf, 0, lateral, rtol=1e-12).eta
        assert run.converged[0]
        assert run.eta[0] == pytest.approx(reference, rel=1e-3)


def test_batch_equals_single_runs(grf):
    batch = np.stack([grf, np.ascontiguousarray(grf.transpose(1, 0, 2))])
    run = lbm.lbm_diffusivity(batch)
    single = lbm.lbm_diffusivity(batch[1])
    assert run.converged.all()
    assert run.eta[1] == pytest.approx(single.eta[0], rel=1e-4)


def test_mirror_and_lateral_shift_invariance(grf):
    eta = lbm.lbm_diffusivity(grf).eta[0]
    mirrored = lbm.lbm_diffusivity(np.ascontiguousarray(grf[::-1])).eta[0]
    shifted = lbm.lbm_diffusivity(np.roll(grf, (7, -5), axis=(1, 2))).eta[0]
    assert mirrored == pytest.approx(eta, rel=2e-4)
    assert shifted == pytest.approx(eta, rel=2e-4)


def test_mass_conservation_same_flux_through_every_plane(grf):
    lbm.init_backend("cpu")
    solver = lbm.LBMSolver(1, grf.shape)
    solver.load(lbm.build_mask(grf[None]))
    run = solver.solve(16.0, flux_change_tol=1e-7, flux_uniformity_tol=1e-5, max_steps=20000)
    fluxes = solver.plane_fluxes()[0, 1:]
    solver.close()
    assert run.converged[0]
    assert np.ptp(fluxes) / fluxes.mean() < 1e-5
    assert fluxes.min() > 0


def test_steps_grow_linearly_with_size():
    steps = {}
    for n in (16, 32):
        structure = generate_structure((0.15, 0.15, 0.15, 0.6), 2, n)
        steps[n] = int(lbm.lbm_diffusivity(structure).steps[0])
    assert steps[32] < 3 * steps[16]  # O(N), not O(N²) (which would be ~4x)


def test_unconverged_run_is_flagged(grf):
    run = lbm.lbm_diffusivity(grf, max_steps_per_voxel=1)
    assert not run.converged[0]


def test_staircase_cylinders_approach_rayleigh():
    f = 0.3
    errors = []
    for cell in (16, 32):
        geometry = cylinder_array(cell, f, cells=2)
        run = lbm.lbm_diffusivity(geometry.structure)
        errors.append(abs(run.eta[0] - rayleigh_cylinders(f)))
    assert errors[1] < errors[0]


def test_init_backend_rejects_unknown_arch():
    with pytest.raises(ValueError):
        lbm.init_backend("tpu")


@pytest.mark.cuda
def test_cuda_matches_cpu(grf):
    cpu = lbm.lbm_diffusivity(grf, arch="cpu").eta[0]
    gpu = lbm.lbm_diffusivity(grf, arch="cuda").eta[0]
    lbm.init_backend("cpu")
    assert gpu == pytest.approx(cpu, rel=1e-4)
