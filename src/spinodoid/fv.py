"""Finite-volume reference solver for steady diffusion in the pore space of a voxel image.

An independent check on the lattice-Boltzmann solver (SPEC §3). The unknowns are the
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

The lateral faces are periodic (the structures are periodic, SPEC §3) or zero-flux. Pore
clusters that do not connect the inlet layer to the outlet layer carry no steady flux and
are removed before assembly, so the matrix is symmetric positive definite; it is solved by
conjugate gradients preconditioned with pyamg smoothed aggregation.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pyamg
import scipy.sparse as sp
from scipy import ndimage
from scipy.sparse import csgraph
from scipy.sparse.linalg import cg

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


class NonPercolatingError(ValueError):
    """The pore space does not connect the inlet face to the outlet face along the axis."""


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
    pore = _pore_mask(structure, ax, lateral)
    periodic = lateral == "periodic"
    active = _percolating_pore(pore, periodic)
    pairs = _face_pairs(active, periodic)
    numbering, fixed = _numbering(active)
    matrix, rhs = _assemble(pairs, numbering, fixed)
    unknown_c, iterations, residual = _solve(matrix, rhs, _initial_guess(active, numbering), rtol, maxiter)
    conc = fixed.copy()
    conc[numbering >= 0] = unknown_c
    plane_flux = _plane_flux(conc.reshape(active.shape), active)
    n_bonds = active.shape[0] - 1
    eta = float(plane_flux.mean() * n_bonds / (_C_IN - _C_OUT))
    seconds = time.perf_counter() - start
    logger.debug(
        "fv %s: eta=%.6f, %d unknowns, %d CG iterations, residual %.2e, %.2f s",
        _AXIS_NAMES[ax], eta, matrix.shape[0], iterations, residual, seconds,
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


def _pore_mask(structure: np.ndarray, axis: int, lateral: str) -> np.ndarray:
    """Pore mask, bool, with the transport axis moved to the front: shape ``(N, M1, M2)``."""
    if lateral not in LATERAL_MODES:
        raise ValueError(f"lateral must be one of {LATERAL_MODES}, got {lateral!r}")
    arr = np.asarray(structure)
    if arr.ndim != 3:
        raise ValueError(f"structure must be 3-D (x, y, z), got shape {arr.shape}")
    if arr.dtype != np.bool_ and not (np.issubdtype(arr.dtype, np.integer) and arr.max() <= 1):
        raise ValueError(f"structure must be bool or 0/1 integers, got dtype {arr.dtype}")
    if arr.shape[axis] < 2:
        raise ValueError(f"need at least 2 layers along axis {axis}, got shape {arr.shape}")
    pore = np.moveaxis(arr == 0, axis, 0)
    if not pore.any():
        raise NonPercolatingError("structure has no pore voxels (all solid)")
    return np.ascontiguousarray(pore)


def _percolating_pore(pore: np.ndarray, periodic: bool) -> np.ndarray:
    """Pore voxels in 6-connected clusters that touch both the first and the last layer.

    With periodic lateral faces, clusters that meet across a lateral face are one cluster.
    Returns a bool array of the shape of ``pore``.
    """
    labels, n_labels = ndimage.label(pore)
    if periodic:
        labels = _merge_wrapped_labels(labels, n_labels)
    touching = np.intersect1d(np.unique(labels[0]), np.unique(labels[-1]))
    touching = touching[touching > 0]
    if touching.size == 0:
        raise NonPercolatingError(
            "no pore cluster connects the inlet layer to the outlet layer "
            f"(pore fraction {pore.mean():.3f}, {n_labels} clusters)"
        )
    active = np.isin(labels, touching)
    logger.debug("fv: %d of %d pore voxels percolate", active.sum(), pore.sum())
    return active


def _merge_wrapped_labels(labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Relabel so that clusters joined through the periodic lateral faces share a label."""
    left, right = [], []
    for ax in (1, 2):
        first = np.take(labels, 0, axis=ax).ravel()
        last = np.take(labels, -1, axis=ax).ravel()
        both = (first > 0) & (last > 0)
        left.append(first[both])
        right.append(last[both])
    rows, cols = np.concatenate(left), np.concatenate(right)
    graph = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n_labels + 1, n_labels + 1))
    _, component = csgraph.connected_components(graph, directed=False)
    merged = component + 1
    merged[0] = 0
    return merged[labels]


def _face_pairs(active: np.ndarray, periodic: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Flat indices ``(a, b)`` of face-adjacent active voxels, one entry per direction.

    Direction 0 (transport) never wraps; directions 1 and 2 wrap when ``periodic``. Index
    arrays are int64 into ``active.ravel()``; ``b`` is the ``+1`` neighbour of ``a``.
    """
    ids = np.arange(active.size, dtype=np.int64).reshape(active.shape)
    pairs = []
    for ax in range(3):
        if ax > 0 and periodic:
            a, b = ids, np.roll(ids, -1, axis=ax)
        else:
            n = active.shape[ax]
            a, b = ids.take(range(n - 1), axis=ax), ids.take(range(1, n), axis=ax)
        a, b = a.ravel(), b.ravel()
        keep = active.ravel()[a] & active.ravel()[b]
        pairs.append((a[keep], b[keep]))
    return pairs


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
    pairs: list[tuple[np.ndarray, np.ndarray]], numbering: np.ndarray, fixed: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Graph-Laplacian system ``A c = b`` over the unknowns (unit conductance per face).

    Each face between two unknowns adds +1 to both diagonals and -1 off-diagonal; a face
    between an unknown and a Dirichlet voxel adds +1 to the diagonal and the fixed value to
    ``b``. Returns ``A`` (csr, float64, SPD) and ``b`` (float64), shape ``(n,)``.
    """
    n = int(numbering.max()) + 1
    rows, cols, diag, rhs = [], [], np.zeros(n), np.zeros(n)
    for a, b in pairs:
        ua, ub = numbering[a], numbering[b]
        both = (ua >= 0) & (ub >= 0)
        rows += [ua[both], ub[both]]
        cols += [ub[both], ua[both]]
        for u, other in ((ua, b), (ub, a)):
            mine = u >= 0
            diag += np.bincount(u[mine], minlength=n)
            to_fixed = mine & (numbering[other] < 0)
            rhs += np.bincount(u[to_fixed], weights=fixed[other[to_fixed]], minlength=n)
    off_r, off_c = np.concatenate(rows), np.concatenate(cols)
    idx = np.arange(n)
    data = np.concatenate([-np.ones(off_r.size), diag])
    matrix = sp.csr_matrix(
        (data, (np.concatenate([off_r, idx]), np.concatenate([off_c, idx]))), shape=(n, n)
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
    hierarchy = pyamg.smoothed_aggregation_solver(matrix, symmetry="symmetric")
    count = [0]

    def _tick(_: np.ndarray) -> None:
        count[0] += 1

    solution, info = cg(
        matrix, rhs, x0=guess, rtol=rtol, atol=0.0, maxiter=maxiter,
        M=hierarchy.aspreconditioner(cycle="V"), callback=_tick,
    )
    residual = float(np.linalg.norm(rhs - matrix @ solution) / np.linalg.norm(rhs))
    if info != 0:
        raise FVConvergenceError(
            f"CG stopped after {count[0]} iterations at relative residual {residual:.2e} "
            f"(asked for {rtol:.0e}); {matrix.shape[0]} unknowns"
        )
    return solution, count[0], residual


def _plane_flux(conc: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Cross-section-averaged flux between consecutive layers, float64 shape ``(N - 1,)``.

    ``conc`` and ``active`` have the transport axis first; the flux through a face between
    two active voxels is ``c_k - c_(k+1)`` (unit conductance).
    """
    both = active[:-1] & active[1:]
    drop = np.where(both, conc[:-1] - conc[1:], 0.0)
    area = active.shape[1] * active.shape[2]
    return drop.sum(axis=(1, 2)) / area
