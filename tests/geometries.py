"""Known-answer geometries for testing diffusivity solvers (a helper module, not a test file).

Every builder returns a :class:`Geometry` ``(structure, level_set, eta)``:

- ``structure``: uint8, axes ``(x, y, z)``, ``1 = solid``, ``0 = pore``;
- ``level_set``: float32 of the same shape, a signed distance in voxels to the solid-pore
  surface, negative in the pore and positive in the solid (``structure == (level_set >= 0)``
  up to voxel centres lying exactly on the surface), so a solver may place a sub-voxel wall
  at its zero crossing;
- ``eta``: the exact or reference value of ``D_eff / D`` along the documented axis, with the
  convention of docs/method.md §3 eq. 6: Dirichlet values on the centres of the first and last voxel
  layers, ``N - 1`` apart, flux averaged over the whole cross-section.

Channels are exact for the voxel (staircase) interface. The periodic arrays compare with a
continuum formula; the domain is built so that the Dirichlet planes are mirror planes of the
array (see :func:`cylinder_array`), so the only error left is the discretisation of the
circle or sphere, which vanishes as the unit cell is refined: compare ``|eta_solver - eta|``
at two or more cell sizes and expect it to shrink, roughly as ``1 / cell`` for a staircase
wall and faster for a sub-voxel wall. The domains of the arrays are not cubic.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

__all__ = [
    "Geometry",
    "box_channel",
    "circular_channel",
    "cylinder_array",
    "rayleigh_cylinders",
    "rayleigh_spheres",
    "sphere_array",
    "straight_channel",
]


class Geometry(NamedTuple):
    """A test geometry and its known effective diffusivity along its transport axis."""

    structure: np.ndarray
    level_set: np.ndarray
    eta: float


def straight_channel(cross_section: np.ndarray, axis: int, length: int) -> Geometry:
    """A prism: the 2-D pore pattern ``cross_section`` extruded along ``axis``.

    Parameters
    ----------
    cross_section:
        bool array ``(M1, M2)``, True = pore, over the two axes other than ``axis`` in
        increasing order (for ``axis = 1``: ``(Nx, Nz)``). Any shape, any number of holes.
    axis:
        Transport axis 0, 1 or 2, along which the pattern is extruded.
    length:
        Number of voxel layers along ``axis`` (>= 2).

    Returns
    -------
    Geometry
        ``eta`` is the porosity ``cross_section.mean()``, exact for any solver that resolves
        the voxel faces: the concentration is linear along the axis. The level set is the
        signed Euclidean distance from voxel centres to the nearest voxel face between the
        phases (a signed distance transform, not periodic across the lateral faces).
    """
    mask = np.asarray(cross_section, dtype=bool)
    inside = ndimage.distance_transform_edt(mask) - 0.5
    outside = ndimage.distance_transform_edt(~mask) - 0.5
    level_2d = np.where(mask, -inside, outside).astype(np.float32)
    pore = np.repeat(mask[None], length, axis=0)
    level = np.repeat(level_2d[None], length, axis=0)
    structure = np.moveaxis((~pore).astype(np.uint8), 0, axis)
    return Geometry(
        np.ascontiguousarray(structure),
        np.ascontiguousarray(np.moveaxis(level, 0, axis)),
        float(mask.mean()),
    )


def box_channel(
    shape: tuple[int, int, int], axis: int, start: tuple[int, int], width: tuple[int, int]
) -> Geometry:
    """A rectangular channel along ``axis`` with walls on voxel faces (exact in every sense).

    Parameters
    ----------
    shape:
        Domain ``(Nx, Ny, Nz)`` in voxels.
    axis:
        Transport axis 0, 1 or 2.
    start, width:
        First voxel index and width (voxels) of the channel along the two lateral axes in
        increasing order; the channel may wrap around a periodic lateral face.

    Returns
    -------
    Geometry
        ``eta = width[0] * width[1] / (M1 * M2)``; the level set is the exact periodic signed
        distance to the box, zero on the voxel faces bounding the channel. A sub-voxel solver
        that interpolates it along lattice links (e.g. D3Q7 interpolated bounce-back) finds
        the walls on the faces and must return the same ``eta``; one that interpolates across
        links (``spinodoid.solvers.fv`` face apertures) rounds the channel's four edges unless the
        channel spans a whole lateral axis (``width == M``), i.e. is a slab.
    """
    lateral = [ax for ax in range(3) if ax != axis]
    grids = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij")
    excess = [
        _lattice_offset(grids[ax], start[i] + (width[i] - 1) / 2, shape[ax]) - width[i] / 2
        for i, ax in enumerate(lateral)
    ]
    level = _box_distance(excess[0], excess[1])
    structure = (level >= 0).astype(np.uint8)
    eta = width[0] * width[1] / (shape[lateral[0]] * shape[lateral[1]])
    return Geometry(structure, level.astype(np.float32), eta)


def circular_channel(size: int, axis: int, radius: float) -> Geometry:
    """A cylindrical channel of ``radius`` voxels along ``axis``, centred in an ``size^3`` cube.

    Returns
    -------
    Geometry
        ``eta`` is the voxel porosity, exact for a staircase (voxel) interface. A sub-voxel
        solver sees a round channel instead and converges to the area fraction
        ``pi radius^2 / size^2`` as ``radius`` grows; the level set is ``r - radius``.
    """
    centre = (size - 1) / 2
    coords = np.arange(size, dtype=np.float64) - centre
    a, b = np.meshgrid(coords, coords, indexing="ij")
    level_2d = np.hypot(a, b) - radius
    level = np.broadcast_to(np.expand_dims(level_2d, axis), (size, size, size)).copy()
    structure = (level >= 0).astype(np.uint8)
    return Geometry(structure, level.astype(np.float32), float(1.0 - structure.mean()))


def rayleigh_cylinders(f: float) -> float:
    """Transverse effective conductivity of a square array of insulating cylinders.

    Rayleigh's multipole method as truncated by Perrins, McKenzie & McPhedran, Proc. R. Soc.
    A 369, 207 (1979), with contrast parameter ``T = (1 + s) / (1 - s) = 1`` for cylinder
    conductivity ``s = 0`` and matrix conductivity 1:

        sigma = 1 - 2 f / (T + f - 0.305827 f^4 T / (T^2 - 1.402958 f^8) - 0.013362 f^8 / T)

    ``f`` is the cylinders' area fraction. The omitted terms are O(f^12); below ``f = 0.5``
    the formula is accurate to better than 1e-4, and it stays within a few 1e-3 up to
    ``f ~ 0.7`` (touching at pi / 4).
    """
    t = 1.0
    denominator = t + f - 0.305827 * f**4 * t / (t**2 - 1.402958 * f**8) - 0.013362 * f**8 / t
    return 1.0 - 2.0 * f / denominator


def rayleigh_spheres(f: float) -> float:
    """Effective conductivity of a simple cubic array of insulating spheres.

    Rayleigh, Phil. Mag. 34, 481 (1892), with the lattice sum as revised by McKenzie,
    McPhedran & Derrick, Proc. R. Soc. A 362, 211 (1978), for sphere conductivity 0 in a
    matrix of conductivity 1 and sphere volume fraction ``f``:

        sigma = 1 - 3 f / (2 + f - 1.315 f^(10/3))

    The first neglected terms are O(f^(14/3)) in the denominator; for ``f <= 0.3`` they and
    the spread of the published f^(10/3) coefficients (1.305-1.315) change sigma by less
    than 1e-4. Use ``f <= 0.3`` (spheres touch at pi / 6 = 0.524).
    """
    return 1.0 - 3.0 * f / (2.0 + f - 1.315 * f ** (10.0 / 3.0))


def cylinder_array(cell: int, f: float, cells: int = 1, depth: int = 1) -> Geometry:
    """A square array of insulating (solid) cylinders along z; transport along x.

    The domain has shape ``(cells * cell + 1, cell, depth)``: ``cells`` unit cells of
    ``cell`` voxels along x between the Dirichlet planes, one unit cell along y (periodic),
    and ``depth`` voxels along z (the cylinders are uniform in z). Cylinder axes sit at
    ``x = cell / 2 + j cell`` and ``y = (cell - 1) / 2`` (voxel-centre coordinates), so

    - the first and last x layers (the Dirichlet planes) lie midway between cylinders, on
      mirror planes of the array, where the exact solution of the infinite array is
      constant; the Dirichlet problem therefore equals the infinite periodic one, and
    - the y faces are mirror planes too, so periodic and zero-flux lateral faces agree.

    Parameters
    ----------
    cell:
        Unit-cell side in voxels, even, >= 4.
    f:
        Cylinder area fraction ``pi R^2 / cell^2`` of the continuum array, in (0, pi / 4).
    cells:
        Unit cells along x.
    depth:
        Voxels along z.

    Returns
    -------
    Geometry
        ``eta = rayleigh_cylinders(f)``, a reference for the continuum array; the voxel
        array's value tends to it as ``cell`` grows. The level set is ``R - r`` to the
        nearest cylinder axis.
    """
    _check_cell(cell, f, np.pi / 4)
    radius = cell * np.sqrt(f / np.pi)
    x = np.arange(cells * cell + 1, dtype=np.float64)
    y = np.arange(cell, dtype=np.float64)
    dx = _lattice_offset(x, cell / 2, cell)
    dy = _lattice_offset(y, (cell - 1) / 2, cell)
    level_2d = radius - np.hypot(dx[:, None], dy[None, :])
    level = np.repeat(level_2d[:, :, None], depth, axis=2)
    structure = (level >= 0).astype(np.uint8)
    return Geometry(structure, level.astype(np.float32), rayleigh_cylinders(f))


def sphere_array(cell: int, f: float, cells: int = 1) -> Geometry:
    """A simple cubic array of insulating (solid) spheres; transport along x.

    The domain has shape ``(cells * cell + 1, cell, cell)``; sphere centres sit at
    ``x = cell / 2 + j cell`` and ``y = z = (cell - 1) / 2`` (voxel-centre coordinates), so
    the Dirichlet planes (first and last x layers) and the lateral faces are mirror planes of
    the array, as in :func:`cylinder_array`: periodic and zero-flux lateral faces agree and
    the Dirichlet problem equals the infinite array's.

    Parameters
    ----------
    cell:
        Unit-cell side in voxels, even, >= 4.
    f:
        Sphere volume fraction ``4 pi R^3 / (3 cell^3)`` of the continuum array; the
        reference is accurate for ``f <= 0.3``.
    cells:
        Unit cells along x.

    Returns
    -------
    Geometry
        ``eta = rayleigh_spheres(f)``; the level set is ``R - |p - centre|`` to the nearest
        sphere centre.
    """
    _check_cell(cell, f, np.pi / 6)
    radius = cell * (3.0 * f / (4.0 * np.pi)) ** (1.0 / 3.0)
    dx = _lattice_offset(np.arange(cells * cell + 1, dtype=np.float64), cell / 2, cell)
    dyz = _lattice_offset(np.arange(cell, dtype=np.float64), (cell - 1) / 2, cell)
    dist = np.sqrt(dx[:, None, None] ** 2 + dyz[None, :, None] ** 2 + dyz[None, None, :] ** 2)
    level = radius - dist
    structure = (level >= 0).astype(np.uint8)
    return Geometry(structure, level.astype(np.float32), rayleigh_spheres(f))


def _check_cell(cell: int, f: float, f_max: float) -> None:
    """Reject odd or tiny unit cells and inclusion fractions outside ``(0, f_max)``."""
    if cell < 4 or cell % 2:
        raise ValueError(f"cell must be an even number of voxels >= 4, got {cell}")
    if not 0.0 < f < f_max:
        raise ValueError(f"inclusion fraction must lie in (0, {f_max:.4f}), got {f}")


def _lattice_offset(coord: np.ndarray, origin: float, period: float) -> np.ndarray:
    """Distance (voxels, float64) from ``coord`` to the nearest point ``origin + j period``."""
    return np.abs((coord - origin + period / 2) % period - period / 2)


def _box_distance(excess_a: np.ndarray, excess_b: np.ndarray) -> np.ndarray:
    """Signed distance to a 2-D box, positive outside, from the per-axis excesses.

    ``excess_*`` is ``|p - c| - half_width`` along each lateral axis (voxels, float64).
    """
    outside = np.hypot(np.maximum(excess_a, 0.0), np.maximum(excess_b, 0.0))
    inside = np.minimum(np.maximum(excess_a, excess_b), 0.0)
    return outside + inside


def carve(shape: tuple[int, int, int], path: list[tuple[int, int, int]]) -> np.ndarray:
    """All-solid block (uint8, 1 = solid) with the listed voxels made pore."""
    structure = np.ones(shape, dtype=np.uint8)
    for voxel in path:
        structure[voxel] = 0
    return structure


# A single-voxel-wide serpentine path along x in a (6, 5, 3) block: 8 voxels, 7 bonds in series,
# and no two non-consecutive voxels are face neighbours (also not through the periodic y wrap).
SERPENTINE = [
    (0, 0, 0),
    (1, 0, 0),
    (1, 1, 0),
    (1, 2, 0),
    (2, 2, 0),
    (3, 2, 0),
    (4, 2, 0),
    (5, 2, 0),
]
