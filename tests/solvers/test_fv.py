"""Tests of the finite-volume reference solver against exact and classical answers."""

from __future__ import annotations

import numpy as np
import pytest
from geometries import (
    SERPENTINE,
    box_channel,
    carve,
    circular_channel,
    cylinder_array,
    rayleigh_cylinders,
    rayleigh_spheres,
    sphere_array,
    straight_channel,
)
from scipy import ndimage

from spinodoid.solvers.fv import (
    LATERAL_MODES,
    FVConvergenceError,
    NonPercolatingError,
    fv_diffusivity,
)


def _random_structure(shape: tuple[int, int, int], porosity: float, seed: int) -> np.ndarray:
    """A periodic, smooth random two-phase structure (uint8, 1 = solid) of given porosity."""
    noise = np.random.default_rng(seed).standard_normal(shape)
    field = ndimage.gaussian_filter(noise, 2.0, mode="wrap")
    return (field >= np.quantile(field, porosity)).astype(np.uint8)


@pytest.fixture(scope="module")
def random_structure() -> np.ndarray:
    return _random_structure((20, 18, 16), 0.6, seed=3)


@pytest.fixture(scope="module")
def random_level_set() -> np.ndarray:
    """A smooth periodic level set (float32, pore where < 0, about 60 % pore)."""
    noise = np.random.default_rng(5).standard_normal((18, 16, 14))
    field = ndimage.gaussian_filter(noise, 2.0, mode="wrap")
    return ((field - np.quantile(field, 0.6)) / field.std()).astype(np.float32)


@pytest.mark.parametrize("axis", [0, 1, 2, "x", "y", "z"])
@pytest.mark.parametrize("lateral", LATERAL_MODES)
def test_box_channel_eta_equals_porosity(axis, lateral):
    ax = "xyz".index(axis) if isinstance(axis, str) else axis
    geometry = box_channel((9, 8, 7), ax, start=(1, 2), width=(3, 4))
    result = fv_diffusivity(geometry.structure, axis, lateral)
    assert result.eta == pytest.approx(geometry.eta, rel=1e-10, abs=0)
    assert geometry.eta == pytest.approx(1.0 - geometry.structure.mean())


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_arbitrary_cross_section_eta_equals_porosity(axis):
    mask = np.random.default_rng(axis).random((11, 9)) < 0.35
    geometry = straight_channel(mask, axis, length=10)
    for lateral in LATERAL_MODES:
        result = fv_diffusivity(geometry.structure, axis, lateral)
        assert result.eta == pytest.approx(mask.mean(), rel=1e-10, abs=0)
        np.testing.assert_allclose(result.plane_flux, mask.mean() / 9, rtol=1e-10)


def test_channel_wrapping_the_periodic_face():
    geometry = box_channel((6, 10, 8), 2, start=(4, 8), width=(4, 5))
    assert geometry.structure[[4, 5, 0, 1]][:, [8, 9, 0, 1, 2]].max() == 0
    assert fv_diffusivity(geometry.structure, 2).eta == pytest.approx(20 / 60, rel=1e-10)


def test_circular_channel_eta_equals_voxel_porosity():
    geometry = circular_channel(14, 2, 4.6)
    assert fv_diffusivity(geometry.structure, "z").eta == pytest.approx(geometry.eta, rel=1e-10)


def test_two_layer_domain_has_no_unknowns():
    structure = np.ones((2, 4, 4), dtype=np.uint8)
    structure[:, 1, 1:3] = 0
    result = fv_diffusivity(structure, 0)
    assert result.unknowns == 0
    assert result.eta == pytest.approx(2 / 16, rel=1e-12)


def test_serpentine_path_is_a_series_resistor():
    # 7 unit conductances in series carry 1/7; eq. 6: eta = (1/7) (N - 1) / A.
    structure = carve((6, 5, 3), SERPENTINE)
    expected = (1 / 7) * 5 / 15
    for lateral in LATERAL_MODES:
        assert fv_diffusivity(structure, 0, lateral).eta == pytest.approx(expected, rel=1e-9)


def test_parallel_paths_add_conductances():
    straight = [(i, 4, 2) for i in range(6)]
    structure = carve((6, 5, 3), SERPENTINE + straight)
    expected = (1 / 7 + 1 / 5) * 5 / 15
    assert fv_diffusivity(structure, 0).eta == pytest.approx(expected, rel=1e-9)


def test_dead_ends_and_isolated_pores_carry_no_flux():
    extras = [(3, 3, 0), (3, 4, 0), (3, 0, 2), (0, 4, 2), (1, 4, 2), (5, 4, 2)]
    # (3,3,0)-(3,4,0): dead-end branch; (3,0,2): isolated; (0,4,2)-(1,4,2): touches inlet
    # only; (5,4,2): touches outlet only.
    structure = carve((6, 5, 3), SERPENTINE + extras)
    result = fv_diffusivity(structure, 0)
    assert result.eta == pytest.approx((1 / 7) * 5 / 15, rel=1e-9)
    assert result.unknowns == 8  # 6 on the path, 2 on the dead end


def test_path_through_the_periodic_wrap():
    # Along x at y = 0, then across the y wrap to y = 4: percolates only if y is periodic.
    path = [(0, 0, 1), (1, 0, 1), (2, 0, 1), (2, 4, 1), (3, 4, 1), (4, 4, 1)]
    structure = carve((5, 5, 3), path)
    assert fv_diffusivity(structure, 0, "periodic").eta == pytest.approx((1 / 5) * 4 / 15, rel=1e-9)
    with pytest.raises(NonPercolatingError, match="no pore cluster"):
        fv_diffusivity(structure, 0, "zero_flux")


@pytest.mark.parametrize("f", [0.4, 0.6])
def test_cylinder_array_converges_to_rayleigh(f):
    errors = []
    for cell in (16, 64, 256):
        geometry = cylinder_array(cell, f)
        errors.append(abs(fv_diffusivity(geometry.structure, 0).eta - geometry.eta))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 3e-3


def test_sphere_array_converges_to_rayleigh():
    errors = []
    for cell in (16, 32, 48):
        geometry = sphere_array(cell, 0.3)
        errors.append(abs(fv_diffusivity(geometry.structure, 0).eta - geometry.eta))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1.2e-2


def test_array_dirichlet_planes_are_mirror_planes():
    # One, two or three unit cells between the Dirichlet planes give the infinite array's
    # value, and the lateral faces are mirror planes, so zero flux equals periodic.
    etas = []
    for cells in (1, 2, 3):
        structure = sphere_array(10, 0.25, cells=cells).structure
        etas += [fv_diffusivity(structure, 0, lateral).eta for lateral in LATERAL_MODES]
    np.testing.assert_allclose(etas, etas[0], rtol=1e-9)
    cylinders = [
        fv_diffusivity(cylinder_array(12, 0.5, cells=c, depth=2).structure, 0).eta for c in (1, 2)
    ]
    assert cylinders[0] == pytest.approx(cylinders[1], rel=1e-9)


def test_rayleigh_formulas_reduce_to_maxwell_garnett():
    f = 1e-3
    assert rayleigh_cylinders(f) == pytest.approx((1 - f) / (1 + f), rel=1e-12)
    assert rayleigh_spheres(f) == pytest.approx((1 - f) / (1 + f / 2), rel=1e-9)
    assert rayleigh_cylinders(0.5) < (1 - 0.5) / (1 + 0.5)


@pytest.mark.parametrize(
    "geometry",
    [
        box_channel((6, 7, 8), 0, (1, 1), (3, 2)),
        circular_channel(10, 1, 3.3),
        straight_channel(np.eye(5, dtype=bool), 2, 4),
        cylinder_array(8, 0.3, cells=2, depth=3),
        sphere_array(8, 0.2),
    ],
)
def test_geometry_level_set_matches_structure(geometry):
    assert geometry.level_set.dtype == np.float32
    assert geometry.structure.dtype == np.uint8
    np.testing.assert_array_equal(geometry.structure, geometry.level_set >= 0)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_mirror_symmetry(random_structure, axis):
    # c -> 1 - c maps the solution of the flipped structure onto the original's.
    base = fv_diffusivity(random_structure, axis)
    for flip_axis in range(3):
        flipped = fv_diffusivity(np.flip(random_structure, flip_axis), axis)
        assert flipped.eta == pytest.approx(base.eta, rel=1e-8)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_lateral_shift_invariance_with_periodic_faces(random_structure, axis):
    base = fv_diffusivity(random_structure, axis)
    lateral_axes = tuple(ax for ax in range(3) if ax != axis)
    shifted = np.roll(random_structure, (5, -7), axis=lateral_axes)
    assert fv_diffusivity(shifted, axis).eta == pytest.approx(base.eta, rel=1e-8)
    assert fv_diffusivity(shifted, axis, "zero_flux").eta != pytest.approx(base.eta, rel=1e-4)


def test_axis_labels_follow_the_array_axes(random_structure):
    swapped = np.transpose(random_structure, (1, 0, 2))
    assert fv_diffusivity(random_structure, "y").eta == pytest.approx(
        fv_diffusivity(swapped, "x").eta, rel=1e-8
    )


@pytest.mark.parametrize("lateral", LATERAL_MODES)
def test_mass_conservation_and_bounds(random_structure, lateral):
    result = fv_diffusivity(random_structure, "x", lateral)
    n = random_structure.shape[0]
    assert result.plane_flux.shape == (n - 1,)
    assert result.plane_flux.dtype == np.float64
    spread = np.ptp(result.plane_flux) / result.plane_flux.mean()
    assert spread < 1e-8
    assert result.eta == pytest.approx(result.plane_flux.mean() * (n - 1), rel=1e-12)
    assert 0.0 < result.eta < 1.0 - random_structure.mean()  # Wiener bound: eta <= porosity
    assert result.residual <= 1e-10
    assert result.iterations > 0 and result.seconds > 0


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("lateral", LATERAL_MODES)
def test_subvoxel_slab_channel_is_exact(axis, lateral):
    # Walls on voxel faces: every face aperture is exactly 0 or 1.
    shape = (9, 8, 10)
    lateral_sizes = [n for ax, n in enumerate(shape) if ax != axis]
    geometry = box_channel(shape, axis, start=(2, 0), width=(3, lateral_sizes[1]))
    result = fv_diffusivity(geometry.structure, axis, lateral, level_set=geometry.level_set)
    assert result.eta == pytest.approx(geometry.eta, rel=1e-10)


def test_subvoxel_circular_channel_tends_to_area_fraction():
    geometry = circular_channel(48, 2, 16.3)
    area_fraction = np.pi * 16.3**2 / 48**2
    subvoxel = fv_diffusivity(
        geometry.structure[:, :, :3], 2, level_set=geometry.level_set[:, :, :3]
    )
    assert abs(subvoxel.eta - area_fraction) < 0.5 * abs(geometry.eta - area_fraction)
    assert subvoxel.eta == pytest.approx(area_fraction, rel=2e-3)


def test_subvoxel_cylinder_array_beats_staircase():
    errors = {}
    for cell in (16, 64):
        geometry = cylinder_array(cell, 0.4)
        for level_set in (None, geometry.level_set):
            eta = fv_diffusivity(geometry.structure, 0, level_set=level_set).eta
            errors[cell, level_set is None] = abs(eta - geometry.eta)
    assert errors[16, False] < errors[16, True] / 5
    assert errors[64, False] < errors[16, False] / 5
    assert errors[64, False] < 1e-3


def test_subvoxel_sphere_array_converges():
    errors = []
    for cell in (8, 16, 32):
        geometry = sphere_array(cell, 0.3)
        eta = fv_diffusivity(geometry.structure, 0, level_set=geometry.level_set).eta
        errors.append(abs(eta - geometry.eta))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 5e-3


def test_subvoxel_symmetries_and_conservation(random_level_set):
    structure = (random_level_set >= 0).astype(np.uint8)
    base = fv_diffusivity(structure, "x", level_set=random_level_set)
    assert np.ptp(base.plane_flux) / base.plane_flux.mean() < 1e-8
    flipped = fv_diffusivity(structure[::-1], "x", level_set=random_level_set[::-1])
    assert flipped.eta == pytest.approx(base.eta, rel=1e-8)
    shift = {"shift": (4, -3), "axis": (1, 2)}
    shifted = fv_diffusivity(
        np.roll(structure, **shift), "x", level_set=np.roll(random_level_set, **shift)
    )
    assert shifted.eta == pytest.approx(base.eta, rel=1e-8)
    assert base.eta != pytest.approx(fv_diffusivity(structure, "x").eta, rel=1e-3)


def test_subvoxel_bad_level_sets_raise(random_level_set):
    structure = (random_level_set >= 0).astype(np.uint8)
    with pytest.raises(ValueError, match="does not match"):
        fv_diffusivity(structure, 0, level_set=random_level_set[1:])
    with pytest.raises(NonPercolatingError, match="no value < 0"):
        fv_diffusivity(structure, 0, level_set=np.abs(random_level_set))


def test_all_solid_raises():
    with pytest.raises(NonPercolatingError, match="all solid"):
        fv_diffusivity(np.ones((6, 6, 6), dtype=np.uint8), "x")


def test_blocked_structure_raises():
    along_x = box_channel((8, 6, 6), 0, (1, 4), (3, 1)).structure  # z = 4
    along_y = box_channel((8, 6, 6), 1, (1, 1), (3, 2)).structure  # z = 1, 2
    structure = along_x & along_y
    structure[4] = 1  # a solid wall across x cuts the x channel, not the y channel
    with pytest.raises(NonPercolatingError, match="no pore cluster"):
        fv_diffusivity(structure, "x")
    assert fv_diffusivity(structure, "y").eta == pytest.approx(6 / 48, rel=1e-10)


def test_unconverged_solve_raises(random_structure):
    with pytest.raises(FVConvergenceError, match="CG stopped after 1 iterations"):
        fv_diffusivity(random_structure, "x", maxiter=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"axis": "w"}, "axis must be"),
        ({"axis": 3}, "axis must be"),
        ({"axis": 0, "lateral": "open"}, "lateral must be"),
    ],
)
def test_bad_arguments_raise(random_structure, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fv_diffusivity(random_structure, **kwargs)


def test_bad_structures_raise():
    with pytest.raises(ValueError, match="3-D"):
        fv_diffusivity(np.zeros((4, 4), dtype=np.uint8), 0)
    with pytest.raises(ValueError, match="0/1"):
        fv_diffusivity(np.full((4, 4, 4), 2, dtype=np.uint8), 0)
    with pytest.raises(ValueError, match="at least 2 layers"):
        fv_diffusivity(np.zeros((1, 4, 4), dtype=np.uint8), 0)
