"""Effective diffusivity η of a structure along one axis: the dispatcher used by CLI and rules.

``effective_diffusivity`` picks the solver (``lbm``: :mod:`spinodoid.lbm`; ``fv``:
:mod:`spinodoid.fv`) and the interface (``voxel``: staircase walls on the binary image;
``subvoxel``: walls from the GRF level set Ψ − T). Both solvers fix c_in and c_out on the pore
voxel centres of the first and last layers and return η from eq. 6 (SPEC §3).

Sub-voxel interface: the FV solver weights each face by its open area fraction from the level
set. The LBM solver runs its staircase on the level set refined ``SUBVOXEL_FACTOR`` times by
spectral interpolation (:func:`spinodoid.structure.refine_level_set`): link-wise interpolated
bounce-back (Bouzidi) was tried and rejected, because for a zero-flux wall it either leaks mass
(plane fluxes non-uniform by ~4 % at steady state) or, with the leak returned to the node,
reproduces the staircase η exactly (see docs/lbm.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "SUBVOXEL_FACTOR",
    "DiffusivityError",
    "DisconnectedStructureError",
    "NotConvergedError",
    "DiffusivityResult",
    "pore_percolates",
    "effective_diffusivity",
]

log = logging.getLogger(__name__)

SUBVOXEL_FACTOR = 2


class DiffusivityError(RuntimeError):
    """η cannot be reported for this structure and axis."""


class DisconnectedStructureError(DiffusivityError):
    """The pore space is empty or does not connect the inlet layer to the outlet layer."""


class NotConvergedError(DiffusivityError):
    """The solver stopped before both convergence criteria were met."""


@dataclass(frozen=True)
class DiffusivityResult:
    """η along one axis and how it was obtained.

    eta: D_eff / D (eq. 7), float; iterations: LBM steps or CG iterations; seconds: wall time
    of the solve (s); converged: always True for a returned result; flux_change: relative
    change of the mean flux at the last check (LBM; NaN for FV); flux_nonuniformity:
    (max − min)/|mean| of the plane fluxes; solver: 'lbm' or 'fv'; interface: 'voxel' or
    'subvoxel'.
    """

    eta: float
    iterations: int
    seconds: float
    converged: bool
    flux_change: float
    flux_nonuniformity: float
    solver: str
    interface: str


def pore_percolates(structure: np.ndarray, axis: int, periodic: bool = True) -> bool:
    """True when a face-connected pore cluster joins layer 0 to layer N − 1 along ``axis``.

    Args:
        structure: uint8 (Nx, Ny, Nz), 1 = solid.
        axis: 0, 1 or 2.
        periodic: clusters also connect through the faces parallel to ``axis``.
    """
    pore = np.moveaxis(np.asarray(structure) == 0, axis, 0)
    labels, count = ndimage.label(pore)
    if count == 0:
        return False
    parent = np.arange(count + 1)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    if periodic:
        for lateral in (1, 2):
            first = np.take(labels, 0, axis=lateral).ravel()
            last = np.take(labels, -1, axis=lateral).ravel()
            both = (first > 0) & (last > 0)
            for a, b in set(zip(first[both], last[both], strict=True)):
                parent[find(int(a))] = find(int(b))
    inlet = {find(int(a)) for a in np.unique(labels[0]) if a > 0}
    outlet = {find(int(a)) for a in np.unique(labels[-1]) if a > 0}
    return bool(inlet & outlet)


def _check_inputs(structure: np.ndarray, axis: int, lateral: str) -> np.ndarray:
    structure = np.asarray(structure)
    if structure.ndim != 3 or structure.dtype != np.uint8:
        raise ValueError(
            f"structure must be uint8 (N, N, N), got {structure.dtype} {structure.shape}"
        )
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis!r}")
    if lateral not in ("periodic", "zero_flux"):
        raise ValueError(f"lateral must be 'periodic' or 'zero_flux', got {lateral!r}")
    if not pore_percolates(structure, axis, periodic=lateral == "periodic"):
        raise DisconnectedStructureError(
            f"no pore path joins the inlet to the outlet along axis {'xyz'[axis]} "
            f"(porosity {1 - structure.mean():.4f}); η would be 0"
        )
    return structure


def _lbm(structure, axis, level_set, arch, lateral, tols) -> DiffusivityResult:
    from spinodoid.lbm import lbm_diffusivity
    from spinodoid.structure import refine_level_set

    interface = "voxel" if level_set is None else "subvoxel"
    solid = structure
    if level_set is not None:
        solid = (refine_level_set(level_set, SUBVOXEL_FACTOR) >= 0).view(np.uint8)
    solid = np.moveaxis(solid, axis, 0)
    run = lbm_diffusivity(
        solid,
        lateral=lateral,
        arch=arch,
        flux_change_tol=tols[0],
        flux_uniformity_tol=tols[1],
        max_steps_per_voxel=tols[2],
    )
    return DiffusivityResult(
        eta=float(run.eta[0]),
        iterations=int(run.steps[0]),
        seconds=run.seconds,
        converged=bool(run.converged[0]),
        flux_change=float(run.flux_change[0]),
        flux_nonuniformity=float(run.flux_nonuniformity[0]),
        solver="lbm",
        interface=interface,
    )


def _fv(structure, axis, level_set, lateral) -> DiffusivityResult:
    from spinodoid.fv import fv_diffusivity

    t0 = time.perf_counter()
    res = fv_diffusivity(structure, axis, lateral, level_set=level_set)
    flux = res.plane_flux
    return DiffusivityResult(
        eta=res.eta,
        iterations=res.iterations,
        seconds=time.perf_counter() - t0,
        converged=True,
        flux_change=float("nan"),
        flux_nonuniformity=float((flux.max() - flux.min()) / abs(flux.mean())),
        solver="fv",
        interface="voxel" if level_set is None else "subvoxel",
    )


def effective_diffusivity(
    structure: np.ndarray,
    axis: int,
    solver: str = "lbm",
    interface: str = "voxel",
    level_set: np.ndarray | None = None,
    arch: str = "cpu",
    flux_change_tol: float = 1e-5,
    flux_uniformity_tol: float = 1e-4,
    max_steps_per_voxel: int = 200,
    lateral: str = "periodic",
) -> DiffusivityResult:
    """η = D_eff/D of the pore space along ``axis`` (eq. 6–7).

    Args:
        structure: uint8 (N, N, N), axes (x, y, z), 1 = solid, 0 = pore.
        axis: transport axis, 0 = x, 1 = y, 2 = z.
        solver: 'lbm' (taichi lattice Boltzmann) or 'fv' (finite volumes, CG + AMG).
        interface: 'voxel' (staircase) or 'subvoxel' (walls from ``level_set``).
        level_set: float32 (N, N, N) Ψ − T, pore where < 0; required for 'subvoxel' and must
            threshold to ``structure``.
        arch: 'cpu' or 'cuda' (LBM only).
        flux_change_tol, flux_uniformity_tol, max_steps_per_voxel: LBM convergence (SPEC §3).
        lateral: 'periodic' (default) or 'zero_flux' faces parallel to ``axis``.

    Raises:
        DisconnectedStructureError: all solid, or no pore path from inlet to outlet.
        NotConvergedError: the LBM run did not meet both criteria within the step limit.
        ValueError: bad arguments, or a level set that does not threshold to ``structure``.
    """
    structure = _check_inputs(structure, axis, lateral)
    if solver not in ("lbm", "fv"):
        raise ValueError(f"solver must be 'lbm' or 'fv', got {solver!r}")
    if interface not in ("voxel", "subvoxel"):
        raise ValueError(f"interface must be 'voxel' or 'subvoxel', got {interface!r}")
    if interface == "subvoxel":
        if level_set is None:
            raise ValueError("interface='subvoxel' needs the level set (a .h5 with θ and seed)")
        level_set = np.asarray(level_set, dtype=np.float32)
        if not np.array_equal(level_set >= 0, structure.astype(bool)):
            raise ValueError("the level set does not threshold to the structure's voxels")
    else:
        level_set = None
    if solver == "fv":
        result = _fv(structure, axis, level_set, lateral)
    else:
        tols = (flux_change_tol, flux_uniformity_tol, max_steps_per_voxel)
        result = _lbm(structure, axis, level_set, arch, lateral, tols)
        if not result.converged:
            raise NotConvergedError(
                f"LBM along {'xyz'[axis]} not converged after {result.iterations} steps: "
                f"flux change {result.flux_change:.2e} (tol {flux_change_tol:.0e}), "
                f"non-uniformity {result.flux_nonuniformity:.2e} (tol {flux_uniformity_tol:.0e})"
            )
    log.info(
        "eta_%s = %.6f (%s/%s, %d iterations, %.2f s)",
        "xyz"[axis],
        result.eta,
        result.solver,
        result.interface,
        result.iterations,
        result.seconds,
    )
    return result
