"""Matrix-free multigrid-preconditioned conjugate gradients for the finite-volume system.

The linear system is :mod:`spinodoid.solvers.fv`'s (docs/lbm.md): one unknown concentration per
voxel
centre, face conductances equal to the open fraction of each voxel face (1 or 0 for the
staircase, ``code / 64`` of the 8 × 8 face samples for the sub-voxel interface), periodic or
zero-flux lateral faces, ``c_in = 1`` and ``c_out = 0`` on the first and last layer, eta from the
plane fluxes by eq. 6. Cells outside the face-connected clusters that join the two Dirichlet
layers are removed first (they carry no steady flux; a cluster touching neither would make the
operator singular), by a parallel connected-component labelling on the face graph.

Preconditioner: a geometric multigrid V-cycle on 2 × 2 × 2 block aggregates of the unknown
cells (an axis of fewer than 3 cells is not coarsened). A coarse face carries the summed
conductance of the fine faces it covers, so a closed fine face never opens on a coarse grid
and a coarse cell sees the pore space only through the faces its fine cells have; the sum is
scaled by 1 / (block length along the face normal), the conductance a homogeneous medium has
on the coarse grid, and the Dirichlet conductance of a boundary block by the ratio of the
distances of the fine and coarse cell centres to the Dirichlet plane. Red-black Gauss–Seidel
smoothing (forward before, backward after the coarse correction, so the cycle is symmetric),
piecewise-constant prolongation, summed restriction.

Precision: the CG work vectors are float32; the concentration is accumulated in float64 and the
residual ``b - A c`` and the plane fluxes are recomputed in float64 after each float32 solve
(iterative refinement). The solve stops when the float64 relative residual is below ``rtol``
AND the N − 1 plane fluxes agree to ``flux_uniformity_tol`` ((max − min)/|mean|), the evidence
the LBM stops on; otherwise it raises :class:`spinodoid.solvers.diffusivity.NotConvergedError`
rather
than report eta.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import taichi as ti

from spinodoid.solvers import backend
from spinodoid.solvers import multigrid_kernels as kern
from spinodoid.solvers import multigrid_levels as levels
from spinodoid.solvers.errors import DisconnectedStructureError, NotConvergedError
from spinodoid.solvers.subvoxel import face_open_fractions

__all__ = [
    "BYTES_PER_CELL",
    "MultigridResult",
    "face_codes",
    "multigrid_diffusivity",
]

log = logging.getLogger(__name__)

_C_IN = 1.0
_C_OUT = 0.0
_AXIS_NAMES = ("x", "y", "z")
_SMOOTHING = 2  # red-black sweeps before and after the coarse correction
_COARSEST_SWEEPS = 16  # Gauss-Seidel sweeps forward, then as many backward, on the coarsest
_COARSEST_CELLS = 512
_TAIL_CELLS = 16384  # levels this small run as one single-threaded kernel (no thread syncs)
_MAX_LEVELS = 32
_MIN_CAPACITY = (1 << 18, 1 << 16, 1 << 12)  # cells, coarse cells, rows: a 64³ grid fits
_INNER_REDUCTION = 1e-4  # each float32 CG solve reduces the residual by this factor
#: Taichi fields per fine cell: 3 B codes, float64 concentration, five float32 CG vectors,
#: int32 label and uint8 mark; the coarse levels add < 1/7 of 28 B.
BYTES_PER_CELL = 3 + 8 + 5 * 4 + 4 + 1 + 4


@dataclass(frozen=True)
class MultigridResult:
    """Outcome of one multigrid-CG solve along one axis.

    eta: D_eff / D (eq. 6-7); iterations: CG iterations (all float32 solves together);
    refinements: float32 solves (float64 residual checks) made; seconds: wall time of the call
    (s); residual: float64 relative residual ``||b - A c|| / ||b||``; flux_nonuniformity:
    (max − min)/|mean| of the plane fluxes; plane_flux: float64 (N − 1,), flux between layers
    k and k + 1 per unit cross-section area (as :class:`spinodoid.solvers.fv.FVResult`); unknowns:
    active unknown cells; levels: grids of the V-cycle, the fine one included.
    """

    eta: float
    iterations: int
    refinements: int
    seconds: float
    residual: float
    flux_nonuniformity: float
    plane_flux: np.ndarray
    unknowns: int
    levels: int


def face_codes(
    structure: np.ndarray,
    axis: int,
    lateral: str,
    level_set: np.ndarray | None = None,
    match_porosity: bool = False,
) -> np.ndarray:
    """Open-fraction codes of the faces, transport axis first, uint8 ``(3, N, M1, M2)``.

    ``[d, a, b, c]`` is 64 × the conductance of the face between cell ``(a, b, c)`` and its
    ``+d`` neighbour (wrapped across periodic lateral faces): 64 between two pore voxels and 0
    elsewhere for the staircase, :func:`spinodoid.solvers.subvoxel.face_open_fractions`
    (spinodoid.solvers.fv's
    open fractions) with ``level_set``. 0 beyond the last layer, across zero-flux lateral
    faces, and on faces that wrap onto their own cell (a lateral axis of length 1).
    ``match_porosity``: the porosity-matched interface of the LBM and spinodoid.solvers.fv
    (docs/lbm.md).
    """
    if level_set is not None:
        psi = np.ascontiguousarray(np.moveaxis(np.asarray(level_set, np.float32), axis, 0))
        codes = face_open_fractions(psi, lateral, match_porosity=match_porosity)
    else:
        pore = np.ascontiguousarray(np.moveaxis(np.asarray(structure) == 0, axis, 0))
        codes = np.zeros((3, *pore.shape), dtype=np.uint8)
        codes[0, :-1] = (pore[:-1] & pore[1:]) * np.uint8(64)
        for d in (1, 2):
            open_ = pore & np.roll(pore, -1, axis=d)
            if lateral == "zero_flux":
                np.moveaxis(open_, d, 0)[-1] = False
            codes[d] = open_ * np.uint8(64)
    for d in (1, 2):
        if codes.shape[d + 1] == 1:
            codes[d] = 0
    return codes


@dataclass(frozen=True)
class _Grid:
    """A coarse level: shape, offset in the coarse arrays, factors from the level above, and
    the block length along the transport axis in fine cells."""

    shape: tuple[int, int, int]
    off: int
    factors: tuple[int, int, int]
    width: int

    @property
    def cells(self) -> int:
        return self.shape[0] * self.shape[1] * self.shape[2]

    def struct(self):
        return kern.Level(n0=self.shape[0], n1=self.shape[1], n2=self.shape[2], off=self.off)


def _hierarchy(unknown_shape: tuple[int, int, int]) -> list[_Grid]:
    """Coarse levels below the fine grid of unknown layers ``(N - 2, M1, M2)``."""
    grids: list[_Grid] = []
    shape, off, width = unknown_shape, 0, 1
    while math.prod(shape) > _COARSEST_CELLS:
        factors = tuple(2 if n > 2 else 1 for n in shape)
        if factors == (1, 1, 1):
            break
        shape = tuple(-(-n // f) for n, f in zip(shape, factors, strict=True))
        width *= factors[0]
        grids.append(_Grid(shape, off, factors, width))
        off += math.prod(shape)
    return grids


class _Workspace:
    """Taichi ndarrays for grids up to ``cells`` fine cells, reused between solves.

    The kernels take ndarrays, not fields, so they are compiled once per process (and loaded
    from taichi's offline cache in later processes) whatever the grid size: a larger grid gets
    larger arrays and the same compiled kernels.
    """

    def __init__(self, cells: int, coarse: int, rows: int):
        self.cells, self.coarse, self.rows = cells, coarse, rows
        coarse = max(coarse, 1)
        self.codes = ti.ndarray(ti.u8, 3 * cells)
        self.x64 = ti.ndarray(ti.f64, cells)
        self.e, self.r, self.z, self.p, self.q = (ti.ndarray(ti.f32, cells) for _ in range(5))
        self.label = ti.ndarray(ti.i32, cells)
        self.mark = ti.ndarray(ti.u8, cells)
        self.cx, self.cb, self.bnd, self.diag = (ti.ndarray(ti.f32, coarse) for _ in range(4))
        self.g = ti.ndarray(ti.f32, 3 * coarse)
        self.row = ti.ndarray(ti.f64, rows)
        self.table = ti.ndarray(ti.i32, (_MAX_LEVELS, 7))

    def fits(self, cells: int, coarse: int, rows: int) -> bool:
        return cells <= self.cells and coarse <= self.coarse and rows <= self.rows


_WORKSPACE: dict[int, _Workspace] = {}


def _workspace(cells: int, coarse: int, rows: int) -> _Workspace:
    """The cached workspace of the current taichi runtime, grown (at least doubled) when
    this grid does not fit; a reset runtime (another arch) gets a new one."""
    program = id(ti.lang.impl.get_runtime().prog)
    old = _WORKSPACE.pop(program, None)
    _WORKSPACE.clear()
    if old is not None and old.fits(cells, coarse, rows):
        _WORKSPACE[program] = old
        return old
    if old is not None:
        cells, coarse = max(cells, 2 * old.cells), max(coarse, 2 * old.coarse)
        rows = max(rows, 2 * old.rows)
        del old  # its arrays are freed before the larger ones are allocated
    cells, coarse, rows = (
        max(n, m) for n, m in zip((cells, coarse, rows), _MIN_CAPACITY, strict=True)
    )
    _WORKSPACE[program] = _Workspace(cells, coarse, rows)
    return _WORKSPACE[program]


class _System:
    """The fine grid and its multigrid hierarchy, loaded into a workspace."""

    def __init__(self, ws: _Workspace, codes: np.ndarray, periodic: bool):
        self.ws = ws
        self.shape = codes.shape[1:]
        n0, n1, n2 = self.shape
        self.plane = n1 * n2
        self.cells = n0 * self.plane
        self.periodic = periodic
        self.grids = _hierarchy((n0 - 2, n1, n2))
        self.tail = next(
            (k for k, grid in enumerate(self.grids) if grid.cells <= _TAIL_CELLS), len(self.grids)
        )
        table = np.zeros((_MAX_LEVELS, 7), dtype=np.int32)
        for k, grid in enumerate(self.grids):
            table[k] = (*grid.shape, grid.off, *grid.factors)
        self.table = table  # read by the tail cycle (a host array: no upload kernel)
        self.flux_rows = np.zeros((n0 - 1) * n1, dtype=np.float64)
        # codes in; e, z, p zeroed (their Dirichlet layers stay 0 from here on); labelling begun
        kern.load_system(
            codes.reshape(-1), ws.codes, ws.e, ws.z, ws.p, ws.label, ws.mark, *self.shape
        )

    # -- set-up ---------------------------------------------------------------------------
    def percolating(self) -> int:
        """Close the faces of cells outside the clusters joining both Dirichlet layers;
        returns the active unknown cells. Raises DisconnectedStructureError if none joins."""
        ws, (n0, n1, n2) = self.ws, self.shape
        while kern.cc_hook(ws.codes, ws.label, n0, n1, n2) > 0:
            kern.cc_compress(ws.label, self.cells)
        if kern.cc_finish(ws.codes, ws.label, ws.mark, ws.row, n0, n1, n2) == 0:
            raise DisconnectedStructureError(
                "no face-connected pore cluster joins the inlet layer to the outlet layer"
            )
        return int(round(kern.total(ws.row, 0, n0 * n1)))

    def build_levels(self) -> None:
        """Coarse conductances, Dirichlet conductances and diagonals of every level."""
        ws, (n0, n1, n2) = self.ws, self.shape
        above = None
        for grid in self.grids:
            scale = [1.0 / f for f in grid.factors]
            prev_width = grid.width // grid.factors[0]
            scale.append((prev_width + 1) / (grid.width + 1))
            scale_vec = ti.Vector(scale, dt=ti.f32)
            if above is None:
                levels.coarsen_fine(
                    ws.codes,
                    ws.g,
                    ws.bnd,
                    ws.diag,
                    n0,
                    n1,
                    n2,
                    grid.struct(),
                    *grid.factors,
                    scale_vec,
                )
            else:
                levels.coarsen(
                    ws.g, ws.bnd, ws.diag, above.struct(), grid.struct(), *grid.factors, scale_vec
                )
            above = grid

    # -- operators ------------------------------------------------------------------------
    def _plane_per_thread(self, n1: int) -> int:
        return int(self.periodic and n1 > 1 and n1 % 2 == 1)

    def vcycle(self) -> None:
        """``z = M r``: one symmetric V-cycle from ``z = 0``."""
        ws, (n0, n1, n2) = self.ws, self.shape
        unknown = (self.plane, self.cells - self.plane)
        kern.fill(ws.z, *unknown, 0.0)
        ppt = self._plane_per_thread(n1)
        for _ in range(_SMOOTHING):
            for colour in (0, 1):
                levels.smooth_fine(ws.codes, ws.z, ws.r, n0, n1, n2, colour, 0, ppt)
        if self.grids:
            top = self.grids[0]
            levels.residual_fine(ws.codes, ws.z, ws.r, ws.q, n0, n1, n2)
            levels.restrict_fine(ws.q, ws.cb, n0, n1, n2, top.struct(), *top.factors)
            self._coarse_cycle(0)
            levels.prolong_fine(ws.z, ws.cx, n0, n1, n2, top.struct(), *top.factors)
        for _ in range(_SMOOTHING):
            for colour in (1, 0):
                levels.smooth_fine(ws.codes, ws.z, ws.r, n0, n1, n2, colour, 1, ppt)

    def _coarse_cycle(self, k: int) -> None:
        ws, grid = self.ws, self.grids[k]
        if k >= self.tail:
            last = len(self.grids) - 1
            levels.tail_cycle(
                ws.g, ws.diag, ws.cx, ws.cb, self.table, k, last, _SMOOTHING, _COARSEST_SWEEPS
            )
            return
        lv, ppt = grid.struct(), self._plane_per_thread(grid.shape[1])
        kern.fill(ws.cx, grid.off, grid.off + grid.cells, 0.0)
        last = k == len(self.grids) - 1
        sweeps = _COARSEST_SWEEPS if last else _SMOOTHING
        for _ in range(sweeps):
            for colour in (0, 1):
                levels.smooth(ws.g, ws.diag, ws.cx, ws.cb, lv, colour, 0, ppt)
        if not last:
            below = self.grids[k + 1]
            levels.restrict(ws.g, ws.diag, ws.cx, ws.cb, lv, below.struct(), *below.factors)
            self._coarse_cycle(k + 1)
            levels.prolong(ws.cx, lv, below.struct(), *below.factors)
        for _ in range(sweeps):
            for colour in (1, 0):
                levels.smooth(ws.g, ws.diag, ws.cx, ws.cb, lv, colour, 1, ppt)

    def _sum_rows(self) -> float:
        n1 = self.shape[1]
        return kern.total(self.ws.row, n1, (self.shape[0] - 1) * n1)

    def residual64(self) -> float:
        """``r = b - A c`` from the float64 concentration; returns ``||r||``. Also computes
        the plane fluxes of that concentration (:meth:`plane_flux`)."""
        ws = self.ws
        kern.residual64(ws.codes, ws.x64, ws.r, ws.row, self.flux_rows, *self.shape)
        return math.sqrt(self._sum_rows())

    def plane_flux(self) -> np.ndarray:
        """Float64 flux between consecutive layers per unit cross-section area, (N − 1,), of
        the concentration of the last :meth:`residual64`."""
        n0, n1, n2 = self.shape
        return self.flux_rows.reshape(n0 - 1, n1).sum(axis=1) / (n1 * n2)

    def pcg(self, target: float, maxiter: int) -> int:
        """Float32 PCG on ``A e = r`` from ``e = 0`` until ``||r|| <= target``; adds ``e`` to
        the float64 concentration; returns the iterations made."""
        ws, shape = self.ws, self.shape
        unknown = (self.plane, self.cells - self.plane)
        kern.fill(ws.e, *unknown, 0.0)
        self.vcycle()
        kern.direction(ws.z, ws.p, 0.0, *unknown)
        kern.dot(ws.r, ws.z, ws.row, *shape)
        rz = self._sum_rows()
        iterations = 0
        while iterations < maxiter:
            kern.matvec_dot(ws.codes, ws.p, ws.q, ws.row, *shape)
            pq = self._sum_rows()
            if not pq > 0:
                break
            kern.cg_update(ws.e, ws.p, ws.r, ws.q, rz / pq, ws.row, *shape)
            iterations += 1
            if math.sqrt(self._sum_rows()) <= target:
                break
            self.vcycle()
            kern.dot(ws.r, ws.z, ws.row, *shape)
            rz_new = self._sum_rows()
            kern.direction(ws.z, ws.p, rz_new / rz, *unknown)
            rz = rz_new
        kern.add_correction(ws.x64, ws.e, *unknown)
        return iterations


def multigrid_diffusivity(
    structure: np.ndarray,
    axis: int | str,
    lateral: str = "periodic",
    *,
    level_set: np.ndarray | None = None,
    rtol: float = 1e-6,
    flux_uniformity_tol: float = 1e-5,
    maxiter: int = 1000,
    arch: str = "cpu",
    match_porosity: bool = False,
) -> MultigridResult:
    """Effective diffusivity along one axis by multigrid-preconditioned CG (module docstring).

    Args:
        structure: uint8 or bool ``(Nx, Ny, Nz)``, 1 = solid, 0 = pore; need not be cubic.
        axis: transport axis, 0/1/2 or 'x'/'y'/'z'; at least 2 layers along it.
        lateral: 'periodic' or 'zero_flux' faces parallel to the axis.
        level_set: optional float ``(Nx, Ny, Nz)``, pore where < 0: sub-voxel interface (face
            conductances = open fractions); ``structure`` then only fixes the shape.
        rtol: float64 relative residual ``||b - A c|| / ||b||`` to reach.
        flux_uniformity_tol: (max − min)/|mean| of the N − 1 plane fluxes to reach.
        maxiter: CG iterations allowed, all float32 solves together.
        arch: taichi backend, 'cpu' or 'cuda' (:func:`spinodoid.solvers.backend.init_backend`; an
            initialised backend is kept).
        match_porosity: with ``level_set``, the porosity-matched sub-voxel interface (the
            one the dispatcher solves, docs/lbm.md).

    Returns:
        :class:`MultigridResult`; ``eta = mean(plane_flux) (N - 1) / (c_in - c_out)``.

    Raises:
        DisconnectedStructureError: no face-connected cluster joins the first and last layer.
        NotConvergedError: ``maxiter`` reached before both criteria hold.
    """
    start = time.perf_counter()
    ax = _AXIS_NAMES.index(axis) if isinstance(axis, str) else int(axis)
    if ax not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1, 2 or one of {_AXIS_NAMES}, got {axis!r}")
    if lateral not in ("periodic", "zero_flux"):
        raise ValueError(f"lateral must be 'periodic' or 'zero_flux', got {lateral!r}")
    structure = np.asarray(structure)
    if structure.ndim != 3 or structure.shape[ax] < 2:
        raise ValueError(
            f"need a 3-D structure with >= 2 layers along the axis, got {structure.shape}"
        )
    backend.init_backend(arch)
    codes = face_codes(structure, ax, lateral, level_set, match_porosity)
    n0, n1, n2 = codes.shape[1:]
    grids = _hierarchy((n0 - 2, n1, n2))
    coarse = sum(g.cells for g in grids)
    system = _System(_workspace(n0 * n1 * n2, coarse, n0 * n1), codes, lateral == "periodic")
    unknowns = system.percolating()
    system.build_levels()
    ws = system.ws
    kern.init_profile(ws.x64, n0, n1 * n2, _C_IN, _C_OUT, 0)
    b_norm = system.residual64()
    kern.init_profile(ws.x64, n0, n1 * n2, _C_IN, _C_OUT, 1)
    iterations, refinements = 0, 0
    while True:
        r_norm = system.residual64()
        residual = r_norm / b_norm if b_norm > 0 else 0.0
        flux = system.plane_flux()
        spread = float((flux.max() - flux.min()) / abs(flux.mean()))
        if residual <= rtol and spread <= flux_uniformity_tol:
            break
        if iterations >= maxiter:
            raise NotConvergedError(
                f"multigrid CG along {_AXIS_NAMES[ax]}: {iterations} iterations, relative "
                f"residual {residual:.2e} (tol {rtol:.0e}), plane-flux non-uniformity "
                f"{spread:.2e} (tol {flux_uniformity_tol:.0e}); {unknowns} unknowns"
            )
        target = max(_INNER_REDUCTION * r_norm, 0.1 * rtol * b_norm)
        iterations += system.pcg(target, maxiter - iterations)
        refinements += 1
    eta = float(flux.mean() * (n0 - 1) / (_C_IN - _C_OUT))
    seconds = time.perf_counter() - start
    log.debug(
        "multigrid %s: eta=%.6f, %d unknowns, %d levels, %d CG iterations in %d solves, "
        "residual %.1e, flux spread %.1e, %.2f s",
        _AXIS_NAMES[ax],
        eta,
        unknowns,
        len(grids) + 1,
        iterations,
        refinements,
        residual,
        spread,
        seconds,
    )
    return MultigridResult(
        eta, iterations, refinements, seconds, residual, spread, flux, unknowns, len(grids) + 1
    )
