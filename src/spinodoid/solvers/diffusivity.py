"""Effective diffusivity η of a structure along one axis: the dispatcher used by CLI and rules.

``effective_diffusivity`` picks the solver (``lbm``: :mod:`spinodoid.solvers.lbm`; ``fv``:
:mod:`spinodoid.solvers.fv`; ``multigrid``: :mod:`spinodoid.solvers.multigrid`, the fv system solved
matrix-free) and the interface (``voxel``: staircase walls on the binary image;
``subvoxel``: walls from the GRF level set Ψ − T). Both solvers fix c_in and c_out on the pore
voxel centres of the first and last layers and return η from eq. 6 (docs/method.md §3).

Sub-voxel interface: both solvers weight each voxel face by its open area fraction, read from
the level set (trilinear between voxel centres, 8 × 8 samples per face, shifted per face
direction so that the mean open fraction is the structure's porosity:
:func:`spinodoid.solvers.subvoxel.porosity_shifts`, docs/lbm.md "Porosity-matched interface"): the
FV
solver as a face conductance, the LBM solver as a partial bounce-back whose transmission is
chosen so the link conductance is that fraction (:func:`spinodoid.solvers.lbm.transmission_table`).
The two agree to the convergence tolerance, at the cost of a staircase solve. Connectivity is
checked on the graph the interface conducts through (:mod:`spinodoid.structures.connectivity`: voxel
graph for the staircase, face graph of open faces for the sub-voxel interface).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from dataclasses import dataclass

import numpy as np

from spinodoid.solvers.errors import (
    DiffusivityError,
    DisconnectedStructureError,
    NotConvergedError,
)
from spinodoid.structures.connectivity import NonPercolatingError, percolates, voxel_graph
from spinodoid.structures.grf import refine_level_set

__all__ = [
    "DEFAULT_SUBVOXEL_REFINE",
    "FASTEST_SOLVER",
    "SOLVERS",
    "DiffusivityError",
    "DisconnectedStructureError",
    "NotConvergedError",
    "DiffusivityResult",
    "effective_diffusivity",
    "effective_diffusivity_xyz",
    "extrapolated_eta",
    "refined_transport_first",
]

log = logging.getLogger(__name__)

#: The solvers of ``solver=`` (docs/lbm.md, "Which solver").
SOLVERS = ("lbm", "fv", "multigrid")

#: The fastest solver of the LBM's discretisation per taichi arch: on the CPU multigrid solves
#: the same finite-volume system 21× faster than the sub-voxel LBM at N = 96
#: (docs/performance.md); on CUDA, expected from its O(N³) work against the LBM's O(N⁴), to be
#: confirmed by ``benchmarks/gpu.sh``.
FASTEST_SOLVER = {"cpu": "multigrid", "cuda": "multigrid"}

# Default refinement of the level set for interface='subvoxel' (the ``subvoxel_refine``
# default): 1 = open-fraction faces on the structure's own grid (docs/lbm.md, refinement study)
DEFAULT_SUBVOXEL_REFINE = 1


@dataclass(frozen=True)
class DiffusivityResult:
    """η along one axis and how it was obtained.

    eta: D_eff / D (eq. 7), float; iterations: LBM steps or CG iterations; seconds: wall time
    of the solve (s); converged: always True for a returned result; flux_change: relative
    change of the mean flux at the last check (LBM; NaN for FV and multigrid);
    flux_nonuniformity: (max − min)/|mean| of the plane fluxes; solver: 'lbm', 'fv' or
    'multigrid'; interface: 'voxel' or 'subvoxel'.
    """

    eta: float
    iterations: int
    seconds: float
    converged: bool
    flux_change: float
    flux_nonuniformity: float
    solver: str
    interface: str


def _check_inputs(structure: np.ndarray, axes: tuple[int, ...], lateral: str, voxel: bool):
    """Validate; with ``voxel`` (staircase walls) also check that the pore voxel graph joins
    the inlet to the outlet along every axis (the sub-voxel solvers check their face graph)."""
    structure = np.asarray(structure)
    if structure.ndim != 3 or structure.dtype != np.uint8:
        raise ValueError(
            f"structure must be uint8 (N, N, N), got {structure.dtype} {structure.shape}"
        )
    if any(axis not in (0, 1, 2) for axis in axes):
        raise ValueError(f"axes must be 0, 1 or 2, got {axes!r}")
    if lateral not in ("periodic", "zero_flux"):
        raise ValueError(f"lateral must be 'periodic' or 'zero_flux', got {lateral!r}")
    graph = voxel_graph(structure == 0) if voxel or not (structure == 0).any() else None
    for axis in axes:
        if graph is not None and not percolates(graph, axis, lateral == "periodic"):
            raise DisconnectedStructureError(
                f"no pore path joins the inlet to the outlet along axis {'xyz'[axis]} "
                f"(porosity {1 - structure.mean():.4f}); η would be 0"
            )
    return structure


def refined_transport_first(
    level_set: np.ndarray, axes: tuple[int, ...], refine: int
) -> np.ndarray:
    """The level set with each transport axis first, sampled ``refine`` times finer.

    Spectral interpolation (:func:`spinodoid.structures.grf.refine_level_set`); along the transport
    axis the fine grid keeps the coarse domain between the centres of layers 0 and N − 1, i.e.
    refine·(N − 1) + 1 fine layers, so η (eq. 6) refers to the same continuum problem.

    Args:
        level_set: float32 (N, N, N) (or any shape when ``refine`` is 1), pore where < 0.
        axes: transport axes, 0/1/2.
        refine: integer refinement factor ≥ 1.

    Returns:
        float32 (len(axes), refine·(N − 1) + 1, refine·N, refine·N).
    """
    fine = refine_level_set(level_set, refine) if refine > 1 else np.asarray(level_set)
    return np.stack(
        [np.moveaxis(fine, axis, 0)[: refine * (level_set.shape[axis] - 1) + 1] for axis in axes]
    ).astype(np.float32)


def _lbm(structure, axes, level_set, arch, lateral, tols, refine) -> list[DiffusivityResult]:
    """Solve the given axes of one structure as one LBM batch (transport axis first)."""
    from spinodoid.solvers.lbm import lbm_diffusivity

    if level_set is None:
        geometry = dict(solid=np.stack([np.moveaxis(structure, axis, 0) for axis in axes]))
    else:
        geometry = dict(solid=None, level_set=refined_transport_first(level_set, axes, refine))
    run = lbm_diffusivity(
        **geometry,
        lateral=lateral,
        arch=arch,
        flux_change_tol=tols[0],
        flux_uniformity_tol=tols[1],
        max_steps_per_voxel=tols[2],
        match_porosity=level_set is not None,
    )
    return [
        DiffusivityResult(
            eta=float(run.eta[k]),
            iterations=int(run.steps[k]),
            seconds=run.seconds / len(axes),
            converged=bool(run.converged[k]),
            flux_change=float(run.flux_change[k]),
            flux_nonuniformity=float(run.flux_nonuniformity[k]),
            solver="lbm",
            interface="voxel" if level_set is None else "subvoxel",
        )
        for k in range(len(axes))
    ]


def _fv(structure, axis, level_set, lateral, refine) -> DiffusivityResult:
    from spinodoid.solvers.fv import fv_diffusivity

    t0 = time.perf_counter()
    if level_set is not None and refine > 1:
        level_set = refined_transport_first(level_set, (axis,), refine)[0]
        structure, axis = (level_set >= 0).view(np.uint8), 0
    res = fv_diffusivity(
        structure, axis, lateral, level_set=level_set, match_porosity=level_set is not None
    )
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


def _multigrid(structure, axis, level_set, arch, lateral, refine) -> DiffusivityResult:
    """One axis by :func:`spinodoid.solvers.multigrid.multigrid_diffusivity` (its own tolerances:
    relative residual 1e-6 and plane fluxes uniform to 1e-5; it raises NotConvergedError)."""
    from spinodoid.solvers.multigrid import multigrid_diffusivity

    t0 = time.perf_counter()
    if level_set is not None and refine > 1:
        level_set = refined_transport_first(level_set, (axis,), refine)[0]
        structure, axis = (level_set >= 0).view(np.uint8), 0
    res = multigrid_diffusivity(
        structure,
        axis,
        lateral,
        level_set=level_set,
        arch=arch,
        match_porosity=level_set is not None,
    )
    return DiffusivityResult(
        eta=res.eta,
        iterations=res.iterations,
        seconds=time.perf_counter() - t0,
        converged=True,
        flux_change=float("nan"),
        flux_nonuniformity=res.flux_nonuniformity,
        solver="multigrid",
        interface="voxel" if level_set is None else "subvoxel",
    )


def _prepare(structure, axes, solver, interface, level_set, lateral):
    """Validate the arguments; returns the structure and the level set (None for 'voxel')."""
    structure = _check_inputs(structure, tuple(axes), lateral, interface == "voxel")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if interface not in ("voxel", "subvoxel"):
        raise ValueError(f"interface must be 'voxel' or 'subvoxel', got {interface!r}")
    if interface == "voxel":
        return structure, None
    if level_set is None:
        raise ValueError("interface='subvoxel' needs the level set (a .h5 with θ and seed)")
    level_set = np.asarray(level_set, dtype=np.float32)
    if not np.array_equal(level_set >= 0, structure.astype(bool)):
        raise ValueError("the level set does not threshold to the structure's voxels")
    return structure, level_set


def _raise_unless_converged(result: DiffusivityResult, axis: int, tols) -> None:
    if not result.converged:
        raise NotConvergedError(
            f"LBM along {'xyz'[axis]} not converged after {result.iterations} steps: "
            f"flux change {result.flux_change:.2e} (tol {tols[0]:.0e}), "
            f"non-uniformity {result.flux_nonuniformity:.2e} (tol {tols[1]:.0e})"
        )


def _solve_axes(
    structure, axes, solver, interface, level_set, arch, lateral, tols, refine
) -> list[DiffusivityResult]:
    """One solve per axis (the LBM: one batch) at refinement ``refine``."""
    try:
        if solver == "fv":
            return [_fv(structure, axis, level_set, lateral, refine) for axis in axes]
        if solver == "multigrid":
            return [_multigrid(structure, axis, level_set, arch, lateral, refine) for axis in axes]
        return _lbm(structure, axes, level_set, arch, lateral, tols, refine)
    except NonPercolatingError as error:
        raise DisconnectedStructureError(
            f"no open path of the {interface} interface joins the inlet to the outlet along "
            f"axes {''.join('xyz'[a] for a in axes)}: {error}; η would be 0"
        ) from error


def extrapolated_eta(coarse: float, fine: float) -> float:
    """η extrapolated to zero cell size from the sub-voxel η at spacing h and h/2.

    The open-fraction interface converges at second order (docs/lbm.md, refinement study:
    observed order 1.6–2.0 on resolved structures), η(h) = η∞ + C h², so
    η∞ ≈ η(h/2) + (η(h/2) − η(h))/3.
    """
    return fine + (fine - coarse) / 3.0


def _richardson(coarse: DiffusivityResult, fine: DiffusivityResult) -> DiffusivityResult:
    """The result at h/2 with :func:`extrapolated_eta`; iterations and seconds of both solves."""
    log.info("extrapolating eta from %.6f (h) and %.6f (h/2)", coarse.eta, fine.eta)
    return dataclasses.replace(
        fine,
        eta=extrapolated_eta(coarse.eta, fine.eta),
        iterations=coarse.iterations + fine.iterations,
        seconds=coarse.seconds + fine.seconds,
        converged=coarse.converged and fine.converged,
        flux_change=max(coarse.flux_change, fine.flux_change),
        flux_nonuniformity=max(coarse.flux_nonuniformity, fine.flux_nonuniformity),
    )


def effective_diffusivity_xyz(
    structure: np.ndarray,
    axes: tuple[int, ...] = (0, 1, 2),
    solver: str = "lbm",
    interface: str = "voxel",
    level_set: np.ndarray | None = None,
    arch: str = "cpu",
    flux_change_tol: float = 1e-5,
    flux_uniformity_tol: float = 1e-4,
    max_steps_per_voxel: int = 200,
    lateral: str = "periodic",
    subvoxel_refine: int = DEFAULT_SUBVOXEL_REFINE,
    extrapolate: bool = False,
) -> list[DiffusivityResult]:
    """η along several axes of one cubic structure; the LBM solves them as one batch.

    Arguments as :func:`effective_diffusivity`, with ``axes`` a tuple of 0/1/2; with more
    than one axis ``structure`` must be cubic (N, N, N). Returns one
    :class:`DiffusivityResult` per axis, in order; for the LBM each result's ``seconds`` is
    the batch time divided by the number of axes.

    Raises:
        DisconnectedStructureError, NotConvergedError, ValueError: as
        :func:`effective_diffusivity`, for the first axis that fails.
    """
    structure = np.asarray(structure)
    if subvoxel_refine < 1 or int(subvoxel_refine) != subvoxel_refine:
        raise ValueError(f"subvoxel_refine must be a positive integer, got {subvoxel_refine}")
    if len(axes) > 1 and len(set(structure.shape)) != 1:
        raise ValueError(f"several axes need a cubic structure, got shape {structure.shape}")
    structure, level_set = _prepare(structure, axes, solver, interface, level_set, lateral)
    if extrapolate and level_set is None:
        raise ValueError(
            "extrapolate needs interface='subvoxel' (the staircase converges at first order, "
            "not the second order the extrapolation assumes)"
        )
    tols = (flux_change_tol, flux_uniformity_tol, max_steps_per_voxel)
    solve = functools.partial(
        _solve_axes, structure, tuple(axes), solver, interface, level_set, arch, lateral, tols
    )
    if extrapolate:
        results = [
            _richardson(coarse, fine)
            for coarse, fine in zip(solve(subvoxel_refine), solve(2 * subvoxel_refine), strict=True)
        ]
    else:
        results = solve(subvoxel_refine)
    for axis, result in zip(axes, results, strict=True):
        _raise_unless_converged(result, axis, tols)
        log.info(
            "eta_%s = %.6f (%s/%s, %d iterations, %.2f s)",
            "xyz"[axis],
            result.eta,
            result.solver,
            result.interface,
            result.iterations,
            result.seconds,
        )
    return results


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
    subvoxel_refine: int = DEFAULT_SUBVOXEL_REFINE,
    extrapolate: bool = False,
) -> DiffusivityResult:
    """η = D_eff/D of the pore space along ``axis`` (eq. 6–7).

    Args:
        structure: uint8 (Nx, Ny, Nz), axes (x, y, z), 1 = solid, 0 = pore.
        axis: transport axis, 0 = x, 1 = y, 2 = z.
        solver: 'lbm' (taichi lattice Boltzmann), 'fv' (finite volumes, CG + AMG) or
            'multigrid' (the same finite volumes, matrix-free multigrid CG in taichi).
        interface: 'voxel' (staircase) or 'subvoxel' (open-fraction faces from
            ``level_set``).
        level_set: float32 (Nx, Ny, Nz) Ψ − T, pore where < 0; required for 'subvoxel' and
            must threshold to ``structure``.
        arch: 'cpu' or 'cuda' (LBM and multigrid).
        flux_change_tol, flux_uniformity_tol, max_steps_per_voxel: LBM convergence
            (docs/method.md §3).
        lateral: 'periodic' (default) or 'zero_flux' faces parallel to ``axis``.
        subvoxel_refine: with 'subvoxel', solve on the level set refined this many times
            (:func:`refined_transport_first`; cost ≈ refine⁴); 1 = the structure's own grid.
        extrapolate: with 'subvoxel', solve at ``subvoxel_refine`` r and 2r and return the
            second-order Richardson extrapolation η(2r) + (η(2r) − η(r))/3, the η of the
            level set at vanishing cell size (docs/lbm.md "Extrapolated η"; cost ≈ 9× the
            solve at r measured for multigrid; ≈ 17× expected for the LBM, whose cost ∝ r⁴).

    Raises:
        DisconnectedStructureError: all solid, or no pore path from inlet to outlet.
        NotConvergedError: the LBM run did not meet both criteria within the step limit (or
            the multigrid solve its residual and flux-uniformity criteria).
        ValueError: bad arguments, or a level set that does not threshold to ``structure``.
    """
    return effective_diffusivity_xyz(
        structure,
        (axis,),
        solver=solver,
        interface=interface,
        level_set=level_set,
        arch=arch,
        flux_change_tol=flux_change_tol,
        flux_uniformity_tol=flux_uniformity_tol,
        max_steps_per_voxel=max_steps_per_voxel,
        lateral=lateral,
        subvoxel_refine=subvoxel_refine,
        extrapolate=extrapolate,
    )[0]
