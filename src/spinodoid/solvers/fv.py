"""Finite-volume reference solver for steady diffusion in the pore space of a voxel image.

An independent check on the lattice-Boltzmann solver (docs/method.md §3). The unknowns are the
concentrations at the centres of pore voxels; every pair of face-adjacent pore voxels is
joined by a conductance ``D = 1`` (voxel size 1, so the flux between them is their
concentration difference); faces between pore and solid carry no flux (eq. 5's zero-flux
condition on the solid-pore interface, as a staircase).

Where the Dirichlet values sit: ``c_in = 1`` is imposed at the centres of the pore voxels of
the first layer along the transport axis and ``c_out = 0`` at the centres of the last layer,
so the two Dirichlet planes are ``N - 1`` voxels apart. This is the distance eq. 6 divides
by, ``D_eff,i = -<J_i> (N - 1) / (c_in - c_out)``, and the placement the LBM helper's
anti-bounce-back Dirichlet nodes match. ``<J_i>`` is the plane-averaged flux over the whole
cross-section, solid included (eq. 6), taken between consecutive layers; these ``N - 1``
plane fluxes agree to the solver tolerance (mass conservation), and eta is their mean times
``N - 1``. A straight channel of porosity eps therefore gives ``eta = eps`` exactly: the
discrete solution is linear in the layer index, each pore column carries ``1 / (N - 1)``.

The lateral faces are periodic (the structures are periodic, docs/method.md §3) or zero-flux. Pore
clusters that do not connect the inlet layer to the outlet layer carry no steady flux and
are removed before assembly (connected components of the bond graph, which also joins
clusters through periodic faces), so the matrix is symmetric positive definite; it is
solved by conjugate gradients preconditioned with pyamg smoothed aggregation.

Optional sub-voxel interface: given a level set (pore where < 0, e.g. the GRF ``Psi - T``),
each face conductance becomes the open area fraction of that face, estimated from the level
set interpolated to the face (a cut-cell scheme with two-point fluxes). Walls on voxel faces
reduce it to the staircase scheme; on a square array of cylinders it is within 2e-4 of
Rayleigh's value at 64 voxels per cell, where the staircase is off by about 1e-2.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pyamg
import scipy.sparse as sp
from scipy.sparse.linalg import cg
from threadpoolctl import threadpool_limits

from spinodoid.structures.connectivity import NonPercolatingError, face_graph, percolating_voxels

__all__ = [
    "LATERAL_MODES",
    "FVConvergenceError",
    "FVResult",
    "NonPercolatingError",
    "fv_diffusivity",
]

logger = logging.getLogger(__name__)

LATERAL_MODES: tuple[str, str] = ("periodic", "zero_flux")
_AXIS_NAMES = ("x", "y", "z")
_C_IN = 1.0
_C_OUT = 0.0

Bonds = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Per direction: flat voxel indices ``a``, ``b`` (int64) and conductances ``g`` (float64)."""


class FVConvergenceError(RuntimeError):
    """Conjugate gradients did not reach the requested relative residual."""


@dataclass(frozen=True)
class FVResult:
    """Outcome of one finite-volume solve along one axis.

    Attributes
    ----------
    eta:
        Dimensionless effective diffusivity ``D_eff / D`` (eq. 6-7), in (0, 1].
    iterations:
        Conjugate-gradient iterations.
    seconds:
        Wall time of the whole call (labelling, assembly, AMG setup, solve), in s.
    residual:
        Final relative residual ``||b - A c|| / ||b||`` of the linear system (0 when the
        system has no unknowns).
    plane_flux:
        float64 array, shape ``(N - 1,)``: flux through the plane between layers ``k`` and
        ``k + 1`` along the transport axis, averaged over the whole cross-section (solid
        included), in units of ``D (c_in - c_out)`` per voxel length. Mass conservation makes
        the entries equal; ``eta = mean(plane_flux) * (N - 1)``.
    unknowns:
        Number of pore voxels whose concentration was solved for.
    """

    eta: float
    iterations: int
    seconds: float
    residual: float
    plane_flux: np.ndarray
    unknowns: int


def fv_diffusivity(
    structure: np.ndarray,
    axis: int | str,
    lateral: str = "periodic",
    *,
    level_set: np.ndarray | None = None,
    match_porosity: bool = False,
    rtol: float = 1e-10,
    maxiter: int = 2000,
) -> FVResult:
    """Effective diffusivity of the pore space along one axis by cell-centred finite volumes.

    Parameters
    ----------
    structure:
        uint8 or bool array, shape ``(Nx, Ny, Nz)``, axes ``(x, y, z)``, ``1 = solid``,
        ``0 = pore``. The domain need not be cubic; ``N`` below is its length along ``axis``.
    axis:
        Transport axis, ``0/1/2`` or ``"x"/"y"/"z"``.
    lateral:
        ``"periodic"`` (default) or ``"zero_flux"`` boundary on the four faces parallel to
        the transport axis.
    level_set:
        Optional float array of the shape of ``structure``, pore where ``< 0`` (e.g. the GRF
        ``Psi - T``, docs/method.md §1). When given, the walls are placed at its zero crossing
        instead
        of on voxel faces (sub-voxel interface): each face conductance is the face's open
        area fraction (see :func:`_subvoxel_bonds`), and ``structure`` only fixes the shape.
    match_porosity:
        With ``level_set``: shift the interpolated level set on the faces normal to each
        direction so that their mean open fraction is the voxel porosity of ``level_set``
        (:func:`spinodoid.solvers.subvoxel.porosity_shifts`, the same shifts as the LBM's), the
        interface
        of the pipeline's thresholded random fields.
    rtol:
        Relative residual ``||b - A c|| / ||b||`` the conjugate gradients must reach.
    maxiter:
        Conjugate-gradient iteration limit.

    Returns
    -------
    FVResult
        ``eta = -<J> (N - 1) / (c_in - c_out)`` with ``c_in = 1`` on the first layer's pore
        voxel centres and ``c_out = 0`` on the last layer's (eq. 6).

    Raises
    ------
    NonPercolatingError
        No pore voxel, or no pore cluster joins the first layer to the last one.
    FVConvergenceError
        Conjugate gradients stopped above ``rtol``.
    """
    start = time.perf_counter()
    ax = _axis_index(axis)
    if lateral not in LATERAL_MODES:
        raise ValueError(f"lateral must be one of {LATERAL_MODES}, got {lateral!r}")
    periodic = lateral == "periodic"
    pore = _pore_mask(structure, ax)
    if level_set is None:
        bonds = _voxel_bonds(pore, periodic)
    else:
        level_set = _transport_first(level_set, ax, pore.shape)
        shifts = _porosity_shifts(level_set, lateral) if match_porosity else (0.0, 0.0, 0.0)
        bonds = _subvoxel_bonds(level_set, periodic, shifts=shifts)
    active = _percolating(bonds, pore.shape)
    bonds = _restrict(bonds, active)
    numbering, fixed = _numbering(active)
    matrix, rhs = _assemble(bonds, numbering, fixed)
    unknown_c, iterations, residual = _solve(
        matrix, rhs, _initial_guess(active, numbering), rtol, maxiter
    )
    conc = fixed.copy()
    conc[numbering >= 0] = unknown_c
    plane_flux = _plane_flux(conc, bonds[0], active.shape)
    eta = float(plane_flux.mean() * (active.shape[0] - 1) / (_C_IN - _C_OUT))
    seconds = time.perf_counter() - start
    logger.debug(
        "fv %s: eta=%.6f, %d unknowns, %d CG iterations, residual %.2e, %.2f s",
        _AXIS_NAMES[ax],
        eta,
        matrix.shape[0],
        iterations,
        residual,
        seconds,
    )
    return FVResult(eta, iterations, seconds, residual, plane_flux, int(matrix.shape[0]))


def _axis_index(axis: int | str) -> int:
    """Axis as 0, 1 or 2 from ``0/1/2`` or ``"x"/"y"/"z"``."""
    if isinstance(axis, str):
        if axis not in _AXIS_NAMES:
            raise ValueError(f"axis must be one of {_AXIS_NAMES} or 0, 1, 2, got {axis!r}")
        return _AXIS_NAMES.index(axis)
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2 or one of {_AXIS_NAMES}, got {axis!r}")
    return int(axis)


def _pore_mask(structure: np.ndarray, axis: int) -> np.ndarray:
    """Pore mask, bool, with the transport axis moved to the front: shape ``(N, M1, M2)``."""
    arr = np.asarray(structure)
    if arr.ndim != 3:
        raise ValueError(f"structure must be 3-D (x, y, z), got shape {arr.shape}")
    if arr.dtype != np.bool_ and not (np.issubdtype(arr.dtype, np.integer) and arr.max() <= 1):
        raise ValueError(f"structure must be bool or 0/1 integers, got dtype {arr.dtype}")
    if arr.shape[axis] < 2:
        raise ValueError(f"need at least 2 layers along axis {axis}, got shape {arr.shape}")
    return np.ascontiguousarray(np.moveaxis(arr == 0, axis, 0))


def _transport_first(level_set: np.ndarray, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    """Level set as float64 with the transport axis first; must match the structure's shape."""
    arr = np.moveaxis(np.asarray(level_set, dtype=np.float64), axis, 0)
    if arr.shape != shape:
        raise ValueError(f"level_set shape {arr.shape} does not match the structure's {shape}")
    return np.ascontiguousarray(arr)


def _neighbours(
    shape: tuple[int, int, int], direction: int, wrap: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices ``(a, b)`` of face neighbours along ``direction``, ``b`` the ``+1`` one.

    Both int64 arrays have the shape of the grid of faces: ``shape`` with ``shape[direction]``
    replaced by the number of faces (``n`` with ``wrap``, else ``n - 1``).
    """
    ids = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    if wrap:
        return ids, np.roll(ids, -1, axis=direction)
    n = shape[direction]
    return ids.take(range(n - 1), axis=direction), ids.take(range(1, n), axis=direction)


def _voxel_bonds(pore: np.ndarray, periodic: bool) -> list[Bonds]:
    """Unit conductances between face-adjacent pore voxels (staircase interface).

    Returns one ``(a, b, g)`` per direction, transport first: flat int64 indices of the two
    voxels and float64 conductances (all 1). Lateral directions wrap when ``periodic``.
    """
    if not pore.any():
        raise NonPercolatingError("structure has no pore voxels (all solid)")
    flat = pore.ravel()
    bonds = []
    for direction in range(3):
        a, b = _neighbours(pore.shape, direction, periodic and direction > 0)
        a, b = a.ravel(), b.ravel()
        keep = flat[a] & flat[b]
        bonds.append((a[keep], b[keep], np.ones(int(keep.sum()))))
    return bonds


def _subvoxel_bonds(
    level_set: np.ndarray,
    periodic: bool,
    samples: int = 8,
    shifts: tuple[float, float, float] | np.ndarray = (0.0, 0.0, 0.0),
) -> list[Bonds]:
    """Face conductances equal to the open (level set < 0) fraction of each voxel face.

    The level set at the voxel corners is the mean of the 8 surrounding voxel centres
    (trilinear interpolation; mirrored across the inlet and outlet faces and across
    zero-flux lateral faces, wrapped across periodic ones). On each face it is interpolated
    bilinearly from its 4 corners, less ``shifts[d]`` on the faces normal to direction d
    (:func:`spinodoid.solvers.subvoxel.porosity_shifts`), and sampled at ``samples^2`` points; the
    open
    fraction is the fraction of samples below 0. Walls on voxel faces give apertures of
    exactly 0 or 1, so this reduces to the staircase scheme there. ``level_set``: float64
    ``(N, M1, M2)``, transport axis first. Returns ``(a, b, g)`` per direction as
    :func:`_voxel_bonds`.
    """
    if not (level_set < 0).any():
        raise NonPercolatingError("level set has no pore (no value < 0)")
    corners = _corner_values(level_set, periodic)
    bonds = []
    for direction in range(3):
        wrap = periodic and direction > 0
        a, b = _neighbours(level_set.shape, direction, wrap)
        quad = _face_corners(corners, direction, a.shape[direction])
        shift = float(np.float32(shifts[direction]))
        g = _open_fraction([c - shift for c in quad], samples).ravel()
        keep = g > 0
        bonds.append((a.ravel()[keep], b.ravel()[keep], g[keep]))
    return bonds


def _porosity_shifts(level_set: np.ndarray, lateral: str) -> np.ndarray:
    """float32 (3,) shifts of the porosity-matched interface (transport axis first)."""
    from spinodoid.solvers.subvoxel import porosity_shifts

    return porosity_shifts(level_set[None].astype(np.float32), lateral)[0]


def _corner_values(level_set: np.ndarray, periodic: bool) -> np.ndarray:
    """Level set at voxel corners, float64 ``(N + 1, M1 + 1, M2 + 1)``.

    Corner ``i`` along an axis sits at coordinate ``i - 1/2`` (voxel centres at integers).
    """
    padded = np.pad(level_set, [(1, 1), (0, 0), (0, 0)], mode="symmetric")
    lateral_mode = "wrap" if periodic else "symmetric"
    padded = np.pad(padded, [(0, 0), (1, 1), (1, 1)], mode=lateral_mode)
    corners = np.zeros(tuple(n - 1 for n in padded.shape))
    for i in (0, 1):
        for j in (0, 1):
            for k in (0, 1):
                corners += padded[
                    i : i + corners.shape[0], j : j + corners.shape[1], k : k + corners.shape[2]
                ]
    return corners / 8.0


def _face_corners(corners: np.ndarray, direction: int, n_faces: int) -> list[np.ndarray]:
    """The 4 corner values ``(c00, c10, c01, c11)`` of every face normal to ``direction``.

    Face ``i`` along ``direction`` lies at ``i + 1/2``, i.e. on corner plane ``i + 1``; the
    two in-plane axes run over corners ``j, j + 1``. Each array has the faces' grid shape.
    """
    others = [d for d in range(3) if d != direction]
    quad = []
    for hi_second in (0, 1):
        for hi_first in (0, 1):
            index: list[slice] = [slice(None)] * 3
            index[direction] = slice(1, 1 + n_faces)
            for d, hi in zip(others, (hi_first, hi_second), strict=True):
                index[d] = slice(hi, hi + corners.shape[d] - 1)
            quad.append(corners[tuple(index)])
    return quad


def _open_fraction(quad: list[np.ndarray], samples: int) -> np.ndarray:
    """Fraction of a bilinear patch below 0, sampled at ``samples^2`` cell midpoints."""
    c00, c10, c01, c11 = quad
    fraction = np.zeros(c00.shape)
    points = (np.arange(samples) + 0.5) / samples
    for s in points:
        for t in points:
            value = (1 - s) * (1 - t) * c00 + s * (1 - t) * c10 + (1 - s) * t * c01 + s * t * c11
            fraction += value < 0
    return fraction / samples**2


def _percolating(bonds: list[Bonds], shape: tuple[int, int, int]) -> np.ndarray:
    """Voxels in bond-connected clusters that reach both the first and the last layer.

    The bonds are the face graph of :mod:`spinodoid.structures.connectivity` (periodic lateral
    bonds wrap,
    the transport axis never does). Returns a bool array of ``shape``; voxels without bonds
    are never active.
    """
    links = np.zeros((3, *shape), dtype=bool)
    for direction, (a, _, _) in enumerate(bonds):
        links[direction].ravel()[a] = True
    graph = face_graph(links)
    active = percolating_voxels(graph, 0, periodic=True)
    if not active.any():
        raise NonPercolatingError(
            "no pore cluster connects the inlet layer to the outlet layer "
            f"({(graph.labels > 0).mean():.3f} of the voxels have an open face)"
        )
    logger.debug("fv: %d of %d bonded voxels percolate", active.sum(), (graph.labels > 0).sum())
    return active


def _restrict(bonds: list[Bonds], active: np.ndarray) -> list[Bonds]:
    """Keep the bonds whose voxels are active (both ends share a cluster, so test one)."""
    flat = active.ravel()
    return [(a[flat[a]], b[flat[a]], g[flat[a]]) for a, b, g in bonds]


def _numbering(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unknown number per voxel and Dirichlet values, both flat over ``active``.

    Returns ``numbering`` (int64, ``-1`` where the voxel is not an unknown: solid, removed,
    or on a Dirichlet layer) and ``fixed`` (float64: ``c_in`` on active voxels of the first
    layer, ``c_out`` on the last, 0 elsewhere).
    """
    interior = active.copy()
    interior[0] = False
    interior[-1] = False
    numbering = np.full(active.size, -1, dtype=np.int64)
    flat = interior.ravel()
    numbering[flat] = np.arange(int(flat.sum()), dtype=np.int64)
    fixed = np.zeros(active.shape, dtype=np.float64)
    fixed[0][active[0]] = _C_IN
    fixed[-1][active[-1]] = _C_OUT
    return numbering, fixed.ravel()


def _assemble(
    bonds: list[Bonds], numbering: np.ndarray, fixed: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Weighted graph-Laplacian system ``A c = b`` over the unknowns.

    A bond of conductance ``g`` between two unknowns adds ``g`` to both diagonals and ``-g``
    off-diagonal; between an unknown and a Dirichlet voxel it adds ``g`` to the diagonal and
    ``g c_fixed`` to ``b``. Returns ``A`` (csr, float64, SPD) and ``b`` (float64 ``(n,)``).
    """
    n = int(numbering.max()) + 1
    rows, cols, vals, diag, rhs = [], [], [], np.zeros(n), np.zeros(n)
    for a, b, g in bonds:
        ua, ub = numbering[a], numbering[b]
        both = (ua >= 0) & (ub >= 0)
        rows += [ua[both], ub[both]]
        cols += [ub[both], ua[both]]
        vals += [-g[both], -g[both]]
        for u, other in ((ua, b), (ub, a)):
            mine = u >= 0
            diag += np.bincount(u[mine], weights=g[mine], minlength=n)
            to_fixed = mine & (numbering[other] < 0)
            rhs += np.bincount(
                u[to_fixed], weights=g[to_fixed] * fixed[other[to_fixed]], minlength=n
            )
    idx = np.arange(n)
    matrix = sp.csr_matrix(
        (
            np.concatenate([*vals, diag]),
            (np.concatenate([*rows, idx]), np.concatenate([*cols, idx])),
        ),
        shape=(n, n),
    )
    return matrix, rhs


def _initial_guess(active: np.ndarray, numbering: np.ndarray) -> np.ndarray:
    """Linear profile from ``c_in`` to ``c_out`` along the transport axis, on the unknowns."""
    n_layers = active.shape[0]
    layer = np.broadcast_to(
        np.arange(n_layers, dtype=np.float64)[:, None, None], active.shape
    ).ravel()
    profile = _C_IN + (_C_OUT - _C_IN) * layer / (n_layers - 1)
    return profile[numbering >= 0]


def _solve(
    matrix: sp.csr_matrix, rhs: np.ndarray, guess: np.ndarray, rtol: float, maxiter: int
) -> tuple[np.ndarray, int, float]:
    """Solve ``A c = b`` by AMG-preconditioned CG; return ``(c, iterations, rel. residual)``."""
    if matrix.shape[0] == 0:
        return np.zeros(0), 0, 0.0
    # Sparse products are memory-bound: BLAS threads only add contention (7-35x slower measured
    # on a loaded 2-core machine), so the solve runs single-threaded.
    with threadpool_limits(limits=1, user_api="blas"):
        return _amg_cg(matrix, rhs, guess, rtol, maxiter)


def _amg_cg(
    matrix: sp.csr_matrix, rhs: np.ndarray, guess: np.ndarray, rtol: float, maxiter: int
) -> tuple[np.ndarray, int, float]:
    hierarchy = pyamg.smoothed_aggregation_solver(matrix, symmetry="symmetric")
    count = [0]

    def _tick(_: np.ndarray) -> None:
        count[0] += 1

    solution, info = cg(
        matrix,
        rhs,
        x0=guess,
        rtol=rtol,
        atol=0.0,
        maxiter=maxiter,
        M=hierarchy.aspreconditioner(cycle="V"),
        callback=_tick,
    )
    residual = float(np.linalg.norm(rhs - matrix @ solution) / np.linalg.norm(rhs))
    if info != 0:
        raise FVConvergenceError(
            f"CG stopped after {count[0]} iterations at relative residual {residual:.2e} "
            f"(asked for {rtol:.0e}); {matrix.shape[0]} unknowns"
        )
    return solution, count[0], residual


def _plane_flux(conc: np.ndarray, transport: Bonds, shape: tuple[int, int, int]) -> np.ndarray:
    """Cross-section-averaged flux between consecutive layers, float64 shape ``(N - 1,)``.

    ``conc`` is the flat concentration (transport axis first), ``transport`` the bonds along
    the transport axis; a bond carries ``g (c_a - c_b)`` from layer ``k`` to ``k + 1``.
    """
    a, b, g = transport
    area = shape[1] * shape[2]
    flux = np.bincount(a // area, weights=g * (conc[a] - conc[b]), minlength=shape[0] - 1)
    return flux / area
