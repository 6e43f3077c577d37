"""Tests of the taichi D3Q7 TRT diffusion solver (spinodoid.solvers.lbm,
spinodoid.solvers.lbm_kernels)."""

import subprocess
import sys

import numpy as np
import pytest

from spinodoid.solvers import backend, lbm, subvoxel
from spinodoid.solvers.fv import fv_diffusivity
from spinodoid.structures.grf import level_set
from tests.geometries import (
    box_channel,
    circular_channel,
    cylinder_array,
    rayleigh_cylinders,
    sphere_array,
)


@pytest.fixture(scope="module")
def grf_level_set() -> np.ndarray:
    """Ψ − T of a paper-like anisotropic structure at N = 32 that percolates in x."""
    return level_set((0.12, 0.16, 0.22, 0.6), 5, 32)


@pytest.fixture(scope="module")
def grf(grf_level_set) -> np.ndarray:
    return (grf_level_set >= 0).view(np.uint8)


def test_init_backend_takes_the_cpu_thread_count():
    """A job's `threads` reach taichi's CPU backend (run in a fresh process: taichi initialises
    once per process); a thread count below 1 is refused before taichi starts."""
    code = (
        "import taichi as ti; from spinodoid.solvers import backend; "
        "backend.init_backend('cpu', cpu_threads=1);"
        "print(ti.lang.impl.current_cfg().cpu_max_num_threads)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-1] == "1"
    with pytest.raises(ValueError, match="cpu_threads"):
        backend.init_backend("cpu", cpu_threads=0)


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
        assert run.eta[0] == pytest.approx(reference, rel=1e-4)


def test_face_codes_of_a_plane_level_set():
    """ψ = ±(y − 3.3): faces spanning y ∈ [2.5, 3.5] are open on 6 (or 2) of 8 sample rows."""
    y = np.arange(8, dtype=np.float32)[None, :, None]
    psi = np.broadcast_to(y - 3.3, (8, 8, 8))
    codes = subvoxel.face_open_fractions(psi, "zero_flux")
    assert (codes[0, :-1, 3] == 48).all() and (codes[2, :, 3, :-1] == 48).all()
    assert (codes[0, :-1, 2] == 64).all() and (codes[0, :, 4] == 0).all()
    assert (codes[1, :, 2] == 64).all() and (codes[1, :, 3] == 0).all()
    assert (codes[0, -1] == 0).all() and (codes[2, :, :, -1] == 0).all()
    flipped = subvoxel.face_open_fractions(-psi, "zero_flux")
    assert (flipped[0, :-1, 3] == 16).all() and (flipped[2, :, 3, :-1] == 16).all()


def test_transmission_makes_link_conductance_the_open_fraction():
    """A slab whose one x-plane of faces is half open: η = (N − 1)/((N − 2) + 1/g) (series
    resistances of the finite-volume scheme), for any τ⁻."""
    nx, g = 12, 0.5
    faces = np.full((1, 3, nx, 4, 4), 64, dtype=np.uint8)
    faces[:, 0, -1] = 0
    faces[:, 0, 5] = 32
    backend.init_backend("cpu")
    expected = (nx - 1) / ((nx - 2) + 1 / g)
    for tau in (1.5, 6.0):
        solver = lbm.LBMSolver(1, (nx, 4, 4), faces=True)
        solver.load(np.zeros((1, nx, 4, 4), np.uint8), faces)
        run = solver.solve(tau, flux_change_tol=1e-7, flux_uniformity_tol=1e-5, max_steps=50_000)
        solver.close()
        assert run.converged[0]
        assert run.eta[0] == pytest.approx(expected, rel=1e-5)
    table = lbm.transmission_table(6.0)
    assert table[0] == 0 and table[-1] == pytest.approx(1.0) and np.all(np.diff(table) > 0)


def test_subvoxel_slab_channel_is_exact():
    """Walls on voxel faces, spanning one lateral axis: open fractions 0/1, η = porosity."""
    geometry = box_channel((16, 12, 10), 0, (3, 0), (5, 10))
    for lateral in ("periodic", "zero_flux"):
        run = lbm.lbm_diffusivity(None, lateral=lateral, level_set=geometry.level_set)
        assert run.converged[0]
        assert run.eta[0] == pytest.approx(geometry.eta, rel=1e-4)


def test_subvoxel_lbm_matches_finite_volume_open_fractions(grf, grf_level_set):
    for lateral in ("periodic", "zero_flux"):
        run = lbm.lbm_diffusivity(None, lateral=lateral, level_set=grf_level_set)
        reference = fv_diffusivity(grf, 0, lateral, level_set=grf_level_set, rtol=1e-12).eta
        assert run.converged[0]
        assert run.eta[0] == pytest.approx(reference, rel=1e-4)


def test_spheres_subvoxel_converges_to_rayleigh_faster_than_staircase():
    """Simple cubic array of spheres, f = 0.3: sub-voxel error shrinks monotonically with the
    cell size and stays below the staircase error (measured: 4.8e-2, 2.8e-2, 1.7e-2 against
    6.5e-2, 8.2e-2, 4.7e-2 at 8, 12, 16 voxels per cell)."""
    errors = {"voxel": [], "subvoxel": []}
    for cell in (8, 12, 16):
        geometry = sphere_array(cell, 0.3)
        voxel = lbm.lbm_diffusivity(geometry.structure).eta[0]
        subvoxel = lbm.lbm_diffusivity(None, level_set=geometry.level_set).eta[0]
        errors["voxel"].append(abs(voxel / geometry.eta - 1))
        errors["subvoxel"].append(abs(subvoxel / geometry.eta - 1))
    assert errors["subvoxel"][0] > errors["subvoxel"][1] > errors["subvoxel"][2]
    assert all(s < v for s, v in zip(errors["subvoxel"], errors["voxel"], strict=True))
    assert errors["subvoxel"][2] < 0.02


def test_thin_lateral_axes_are_handled():
    """Nz = 1 and 2 (cylinders uniform along z): periodic z neighbours are the node itself
    or the other layer; η must not depend on the depth."""
    etas = [lbm.lbm_diffusivity(cylinder_array(16, 0.3, 2, d).structure).eta[0] for d in (1, 2, 3)]
    assert etas[0] == pytest.approx(etas[2], rel=1e-5)
    assert etas[1] == pytest.approx(etas[2], rel=1e-5)


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


@pytest.mark.parametrize("faces", [False, True])
def test_mass_conservation_same_flux_through_every_plane(grf, grf_level_set, faces):
    backend.init_backend("cpu")
    solver = lbm.LBMSolver(1, grf.shape, faces=faces)
    if faces:
        solver.load_level_set(grf_level_set[None])
    else:
        solver.load(lbm.build_mask(grf[None]))
    run = solver.solve(16.0, flux_change_tol=1e-7, flux_uniformity_tol=1e-5, max_steps=20000)
    fluxes = solver.plane_fluxes()[0, 1:]
    solver.close()
    assert run.converged[0]
    assert np.ptp(fluxes) / fluxes.mean() < 1e-5
    assert fluxes.min() > 0


@pytest.mark.parametrize("faces", [False, True])
def test_gpu_thread_layout_gives_the_same_populations(grf, grf_level_set, faces):
    """The per-node kernel layout (used on CUDA) computes the same step as the per-line one."""
    backend.init_backend("cpu")
    result = []
    for per_node in (False, True):
        solver = lbm.LBMSolver(1, grf.shape, faces=faces, per_node=per_node)
        if faces:
            solver.load_level_set(grf_level_set[None])
            solver.table.from_numpy(lbm.transmission_table(16.0))
        else:
            solver.load(lbm.build_mask(grf[None]))
        solver.step(20, *lbm.relaxation_rates(16.0))
        result.append(solver.populations.to_numpy())
        solver.close()
    assert np.abs(result[0]).max() > 0
    np.testing.assert_allclose(result[0], result[1], rtol=0, atol=1e-6)  # float32 rounding


def test_steps_grow_linearly_with_size():
    steps = {}
    for n in (16, 32):
        structure = (level_set((0.15, 0.15, 0.15, 0.6), 2, n) >= 0).view(np.uint8)
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
        backend.init_backend("tpu")


@pytest.mark.cuda
def test_cuda_matches_cpu(grf, grf_level_set):
    cpu = lbm.lbm_diffusivity(grf, arch="cpu").eta[0]
    cpu_faces = lbm.lbm_diffusivity(None, arch="cpu", level_set=grf_level_set).eta[0]
    gpu = lbm.lbm_diffusivity(grf, arch="cuda").eta[0]
    gpu_faces = lbm.lbm_diffusivity(None, arch="cuda", level_set=grf_level_set).eta[0]
    backend.init_backend("cpu")
    assert gpu == pytest.approx(cpu, rel=1e-4)
    assert gpu_faces == pytest.approx(cpu_faces, rel=1e-4)


@pytest.mark.parametrize("faces", [False, True])
def test_plane_fluxes_are_bit_identical_on_every_call(faces):
    """The plane-flux reduction has a fixed order, whatever the thread timing: the same
    populations give the same float64 fluxes on every call (a SLURM job and a local run of one
    structure store the same η). Summing rows into a plane with parallel atomic adds, as an
    earlier version did, gave different last bits on about half of these calls."""
    backend.init_backend("cpu")
    psi = level_set((0.06, 0.08, 0.11, 0.6), 5, 64)
    batch = np.stack([psi, psi.transpose(1, 0, 2), psi.transpose(2, 1, 0)])
    solver = lbm.LBMSolver(3, psi.shape, faces=faces)
    try:
        if faces:
            solver.load_level_set(batch, "periodic")
            solver.table.from_numpy(lbm.transmission_table(32.0))
        else:
            solver.load(lbm.build_mask((batch >= 0).view(np.uint8)))
        solver.step(100, *lbm.relaxation_rates(32.0))
        first = solver.plane_fluxes()
        assert np.abs(first[:, 1:]).min() > 0
        assert all(np.array_equal(first, solver.plane_fluxes()) for _ in range(200))
    finally:
        solver.close()


def _wavy_channel(nx: int, m: int = 8) -> np.ndarray:
    """Level set of a tube of radius 2.6 whose centre winds through an m × m cross-section
    along x: every cross-section cuts faces partly (float32 (nx, m, m), pore where < 0)."""
    x, y, z = np.meshgrid(np.arange(nx), np.arange(m), np.arange(m), indexing="ij")
    cy = 3.5 + 1.5 * np.sin(2 * np.pi * x / 24)
    cz = 3.5 + 1.5 * np.cos(2 * np.pi * x / 17)
    return (np.hypot(y - cy, z - cz) - 2.6).astype(np.float32)


@pytest.mark.parametrize("tau_minus", [32.0, 96.0, 288.0])
def test_transmission_rule_holds_at_production_relaxation_times(tau_minus):
    """τ⁻ = N/2 of N = 64, 192, 576 (Nx = 2τ⁻, 'auto'): the partial bounce-back steady state is
    the finite-volume open-fraction scheme's to 1e-5 (measured 4e-10, 1.6e-7, 2.8e-7)."""
    psi = _wavy_channel(int(2 * tau_minus))
    reference = fv_diffusivity((psi >= 0).view(np.uint8), 0, level_set=psi, rtol=1e-12).eta
    run = lbm.lbm_diffusivity(None, level_set=psi, flux_change_tol=1e-8, flux_uniformity_tol=1e-6)
    assert run.converged[0]
    assert run.eta[0] == pytest.approx(reference, rel=1e-5)


def test_members_per_launch_keeps_the_populations_below_the_index_limit():
    assert lbm.members_per_launch(3, (192, 192, 192)) == 3
    assert lbm.members_per_launch(3, (574, 576, 576)) == 1  # subvoxel_refine 3 at N = 192
    assert lbm.members_per_launch(2, (576, 576, 576)) == 1
    assert lbm.members_per_launch(1000, (100, 100, 100)) == 306  # 306 · 7e6 < 2³¹
    with pytest.raises(ValueError, match="32-bit"):
        lbm.members_per_launch(1, (700, 700, 700))


def test_batches_over_the_index_limit_are_split_into_launches(grf_level_set, monkeypatch):
    batch = np.stack([np.moveaxis(grf_level_set, axis, 0) for axis in range(3)])
    whole = lbm.lbm_diffusivity(None, level_set=batch)
    monkeypatch.setattr(lbm, "INDEX_LIMIT", 2 * 7 * 32**3)  # two members per launch
    split = lbm.lbm_diffusivity(None, level_set=batch)
    assert np.array_equal(split.eta, whole.eta) and np.array_equal(split.steps, whole.steps)
    monkeypatch.setattr(lbm, "INDEX_LIMIT", 7 * 32**3 - 1)
    with pytest.raises(ValueError, match="32-bit"):
        lbm.lbm_diffusivity(None, level_set=batch)


def test_porosity_shifts_give_every_face_direction_the_voxel_porosity():
    """An under-resolved structure (a = 1.3–2.6 voxels): trilinear faces are 3–4 % too open;
    shifted, the mean open fraction of each direction's faces is the voxel porosity."""
    psi = level_set((0.04, 0.06, 0.08, 0.7), 3, 32)[None]
    eps = (psi < 0).mean()
    assert np.all(subvoxel.open_fraction_means(psi) - eps > 0.02)
    shifts = subvoxel.porosity_shifts(psi)
    assert np.all(shifts < 0) and shifts.dtype == np.float32
    assert np.abs(subvoxel.open_fraction_means(psi, shifts=shifts) - eps).max() < 1e-5
    codes = lbm.face_code_batch(psi, "periodic", shifts)[0]
    assert abs(codes[0, :-1].mean() / 64 - eps) < 1e-5
    assert np.array_equal(subvoxel.face_open_fractions(psi[0], match_porosity=True), codes)


def test_porosity_shifts_are_a_small_correction_where_the_level_set_is_resolved():
    """a = 14–19 voxels: trilinear faces within 0.005 of the voxel porosity, shifts < 0.01 σ
    (against 0.1–0.2 σ at a ≈ 1.5 voxels)."""
    psi = level_set((0.3, 0.35, 0.4, 0.7), 3, 48)[None]
    assert np.abs(subvoxel.open_fraction_means(psi) - (psi < 0).mean()).max() < 5e-3
    assert np.abs(subvoxel.porosity_shifts(psi)).max() < 1e-2


def test_fv_uses_the_same_porosity_matched_faces(grf, grf_level_set):
    """FV and LBM solve the same shifted interface: η equal to the solver tolerance."""
    run = lbm.lbm_diffusivity(None, level_set=grf_level_set, match_porosity=True)
    reference = fv_diffusivity(grf, 0, level_set=grf_level_set, match_porosity=True).eta
    plain = fv_diffusivity(grf, 0, level_set=grf_level_set).eta
    assert run.eta[0] == pytest.approx(reference, rel=1e-4)
    assert reference != plain
