"""Steady diffusion in the pore space by a D3Q7 TRT lattice-Boltzmann method (docs/method.md §3).

Method
------
Populations fᵢ (D3Q7, c_s² = 1/4) relax with two rates (TRT, Ginzburg 2005): the even part
to wᵢ C with ω⁺ = 1/τ⁺, the odd (flux) part to 0 with ω⁻ = 1/τ⁻, so D = c_s² (τ⁻ − ½). The
"magic" product Λ = (τ⁺ − ½)(τ⁻ − ½) is fixed at 1/4 (``MAGIC_LAMBDA``). With Λ fixed, the
steady state of TRT with bounce-back and anti-bounce-back depends on Λ alone, not on τ⁻, so
the wall positions (half-way for the staircase) and η do not move when τ⁻ is changed; a plain
BGK model (one rate) would tie the wall position to the diffusion coefficient. Λ = 3/16 moved
η by +0.4–0.7 % in a sketch (a different effective wall position); Λ = 1/4 puts the Dirichlet
planes and the staircase walls half-way along links and makes a straight channel give η = ε.

Fast steady state: the steady solution does not depend on D, so D is chosen to relax the
transient fast. τ⁻ ≈ N/2 (``tau_minus='auto'``) makes the diffusive time N²/D of order 8 N
steps, i.e. O(N) steps instead of the O(N²) of τ⁻ ≈ 1; the even rate then follows from Λ.

Boundaries: bounce-back on pore–solid links (zero flux; staircase walls half-way between a
pore and a solid node); periodic or zero-flux lateral faces. Along the transport axis the pore
voxels of the first and last layers are held at c_in and c_out (Dirichlet values at their
centres, N − 1 voxels apart), exactly as in the finite-volume reference :mod:`spinodoid.solvers.fv`:
the link from layer 1 to a Dirichlet node uses anti-bounce-back with the wall value
C_w = (c_fixed + C_node)/2, the linear interpolant half-way along the link. η from eq. 6,
D_eff = −⟨J⟩ (N − 1) / (c_in − c_out), ⟨J⟩ averaged over the whole cross-section (solid
included): a straight channel of porosity ε gives η = ε.

Sub-voxel walls (``level_set`` given): each lattice link crosses one voxel face; the face's
open area fraction g (the fraction of the face where the trilinearly interpolated level set is
< 0, on 8 × 8 sample points: :func:`spinodoid.solvers.subvoxel.face_open_fractions`, the same
definition as the
finite-volume solver's cut-cell mode) sets a partial bounce-back, fᵢ(x) = t f*ᵢ(x − cᵢ) +
(1 − t) f*_ī(x), conservative link by link. At Λ = 1/4 a link of transmission t has the
resistance 1 + (1/t − 1)·2(τ⁻ − ½) of a full link's 1 (measured on a layered slab for
τ⁻ = 1, 3, 6, both interior and Dirichlet links), so t = 2(τ⁻ − ½)g / (2(τ⁻ − ½)g + 1 − g)
(:func:`transmission_table`) makes the link conductance g, independent of τ⁻: the steady
state is then the finite-volume open-fraction scheme's (equal to ~1e-7 on GRFs, and at the
production τ⁻ = 32, 96, 288). ``match_porosity``: the interpolant is shifted per face
direction (:func:`porosity_shifts`) so that the faces keep the voxel porosity (docs/lbm.md,
"Porosity-matched interface"). Before any step, every batch member must percolate on the graph
it conducts through (:mod:`spinodoid.structures.connectivity`: open faces, or pore voxels), and
batches
whose populations would pass taichi's 32-bit index limit run in several launches
(:func:`members_per_launch`).

Convergence: every ``check_every`` steps the plane fluxes (net populations crossing each of
the N − 1 planes normal to the transport axis, summed in float64 one row per thread, then
the rows in a fixed order, so η is the same bit for bit whatever the thread count or timing:
no atomic adds) are computed; the run stops when the mean flux changed by
< ``flux_change_tol`` (relative) since the last check AND the plane fluxes agree to
``flux_uniformity_tol`` ((max − min)/|mean|). A run that exceeds ``max_steps_per_voxel`` · N
steps is returned with ``converged=False``; callers must not use its η
(:func:`spinodoid.solvers.diffusivity.effective_diffusivity` raises).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import taichi as ti

from spinodoid.solvers import backend
from spinodoid.solvers import lbm_kernels as kern
from spinodoid.solvers.subvoxel import (
    FACE_SAMPLES,
    face_code_batch,
    porosity_shifts,
)
from spinodoid.structures.connectivity import (
    NonPercolatingError,
    face_graph,
    percolates,
    voxel_graph,
)

__all__ = [
    "MAGIC_LAMBDA",
    "LBMRun",
    "LBMSolver",
    "build_mask",
    "relaxation_rates",
    "transmission_table",
    "INDEX_LIMIT",
    "members_per_launch",
    "lbm_diffusivity",
]

log = logging.getLogger(__name__)

MAGIC_LAMBDA = 0.25  # Λ = (τ⁺ − ½)(τ⁻ − ½), fixed for the whole pipeline
C_IN = 0.5  # inlet concentration (lattice units); centred on 0 for float32 headroom
C_OUT = -0.5  # outlet concentration


def relaxation_rates(tau_minus: float) -> tuple[float, float]:
    """(ω⁺, ω⁻) for the odd relaxation time τ⁻ (> ½) at Λ = 1/4.

    τ⁺ − ½ = Λ / (τ⁻ − ½); D = (τ⁻ − ½)/4 in lattice units.
    """
    if tau_minus <= 0.5:
        raise ValueError(f"tau_minus must exceed 1/2, got {tau_minus}")
    tau_plus = 0.5 + MAGIC_LAMBDA / (tau_minus - 0.5)
    return 1.0 / tau_plus, 1.0 / tau_minus


def build_mask(solid: np.ndarray, lateral: str = "periodic") -> np.ndarray:
    """Boundary bits for a batch of structures with the transport axis first.

    Args:
        solid: bool or uint8 (B, Nx, Ny, Nz), nonzero = solid; Nx >= 4.
        lateral: 'periodic' or 'zero_flux' (faces normal to y and z are walls).

    Returns:
        uint8 (B, Nx, Ny, Nz) with the bits described in :mod:`spinodoid.solvers.lbm_kernels`.
    """
    if lateral not in ("periodic", "zero_flux"):
        raise ValueError(f"lateral must be 'periodic' or 'zero_flux', got {lateral!r}")
    solid = np.asarray(solid).astype(bool)
    if solid.ndim != 4 or solid.shape[1] < 4:
        raise ValueError(f"expected (B, Nx, Ny, Nz) with Nx >= 4, got shape {solid.shape}")
    frozen = solid.copy()
    frozen[:, 0] = True
    frozen[:, -1] = True
    mask = np.where(frozen, np.uint8(kern.SOLID_BIT), np.uint8(0))
    for i in range(1, 7):
        shift = (kern.CX[i], kern.CY[i], kern.CZ[i])
        axis = int(np.flatnonzero(shift)[0])
        c = shift[axis]
        upstream = np.roll(frozen, c, axis=axis + 1)  # value at x comes from x − c
        if axis > 0 and lateral == "zero_flux":
            edge = [slice(None)] * 4
            edge[axis + 1] = 0 if c == 1 else -1
            upstream[tuple(edge)] = True
        mask |= (upstream & ~frozen).astype(np.uint8) << np.uint8(i - 1)
    mask[:, 1][~solid[:, 0] & ~solid[:, 1]] |= np.uint8(kern.DIRICHLET_BIT)
    mask[:, -2][~solid[:, -1] & ~solid[:, -2]] |= np.uint8(kern.DIRICHLET_BIT)
    return mask


def transmission_table(tau_minus: float) -> np.ndarray:
    """Partial bounce-back transmission t per face code, float32 (FACE_SAMPLES² + 1,).

    A link of transmission t has resistance 1 + (1/t − 1)·2(τ⁻ − ½) (Λ = 1/4; a full link
    has 1), so t = 2(τ⁻ − ½)g / (2(τ⁻ − ½)g + 1 − g) gives the link the conductance g of the
    open fraction g = code / 64, whatever τ⁻.
    """
    g = np.arange(FACE_SAMPLES**2 + 1, dtype=np.float64) / FACE_SAMPLES**2
    k = 2.0 * (tau_minus - 0.5)
    return (k * g / (k * g + 1.0 - g)).astype(np.float32)


@dataclass(frozen=True)
class LBMRun:
    """Result of one batched solve; arrays have shape (B,).

    eta: float64 η (eq. 6); flux: float64 mean plane flux ⟨J⟩ per unit area (lattice units);
    steps: int64 LBM steps done; converged: bool; flux_change: relative change of ⟨J⟩ at the
    last check; flux_nonuniformity: (max − min)/|mean| of the plane fluxes; seconds: wall time
    of the whole batch.
    """

    eta: np.ndarray
    flux: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    flux_change: np.ndarray
    flux_nonuniformity: np.ndarray
    seconds: float


@ti.data_oriented
class LBMSolver:
    """A batch of B same-shaped structures (transport along the first axis) and their fields.

    Owns double-buffered float32 populations ``f_a``/``f_b`` (B, 7, Nx, Ny, Nz), the uint8
    mask (B, Nx, Ny, Nz), float64 plane-row fluxes (B, Nx, Ny) and plane fluxes (B, Nx)
    and, with ``faces=True`` (open-fraction walls), uint8 face codes (B, 3, Nx, Ny, Nz) and
    the float32 transmission table. Memory ≈ 57 B (staircase) or 60 B (faces) per node.
    ``per_node``: one kernel thread per node (default on CUDA, for coalesced access) instead
    of one per (x, y) line (default on CPU).
    """

    def __init__(
        self,
        batch: int,
        shape: tuple[int, int, int],
        faces: bool = False,
        per_node: bool | None = None,
    ):
        arch = backend.current_arch()
        if arch is None:
            raise RuntimeError(
                "call spinodoid.solvers.backend.init_backend(arch) before creating a solver"
            )
        self.per_node = arch == "cuda" if per_node is None else bool(per_node)
        self.batch = int(batch)
        self.shape = tuple(int(n) for n in shape)
        self.uses_faces = bool(faces)
        self._builder = ti.FieldsBuilder()
        self.f_a = ti.field(ti.f32)
        self.f_b = ti.field(ti.f32)
        self.mask = ti.field(ti.u8)
        self.flux_rows = ti.field(ti.f64)
        self.fluxes = ti.field(ti.f64)
        self._builder.dense(ti.axes(0, 1, 2, 3, 4), (self.batch, 7, *self.shape)).place(self.f_a)
        self._builder.dense(ti.axes(0, 1, 2, 3, 4), (self.batch, 7, *self.shape)).place(self.f_b)
        self._builder.dense(ti.ijkl, (self.batch, *self.shape)).place(self.mask)
        self._builder.dense(ti.ijk, (self.batch, *self.shape[:2])).place(self.flux_rows)
        self._builder.dense(ti.ij, (self.batch, self.shape[0])).place(self.fluxes)
        if self.uses_faces:
            self.faces = ti.field(ti.u8)
            self.table = ti.field(ti.f32)
            self._builder.dense(ti.axes(0, 1, 2, 3, 4), (self.batch, 3, *self.shape)).place(
                self.faces
            )
            self._builder.dense(ti.i, FACE_SAMPLES**2 + 1).place(self.table)
        self._tree = self._builder.finalize()
        self._current_is_a = True

    def close(self) -> None:
        """Free the device memory of this solver's fields."""
        self._tree.destroy()

    @property
    def populations(self):
        """The field holding the latest post-collision populations."""
        return self.f_a if self._current_is_a else self.f_b

    def load(self, mask: np.ndarray, faces: np.ndarray | None = None) -> None:
        """Upload the mask (B, Nx, Ny, Nz) uint8 (:func:`build_mask`; with ``faces``, uint8
        codes (B, 3, Nx, Ny, Nz) as from :func:`spinodoid.solvers.subvoxel.face_open_fractions`,
        the mask is rebuilt from
        them) and reset the populations to equilibrium at the linear profile."""
        if mask.shape != (self.batch, *self.shape):
            raise ValueError(f"mask shape {mask.shape} != {(self.batch, *self.shape)}")
        if (faces is not None) != self.uses_faces:
            raise ValueError("face codes must be given exactly when the solver uses faces")
        self.mask.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8))
        if faces is not None:
            self.faces.from_numpy(np.ascontiguousarray(faces, dtype=np.uint8))
            kern.face_mask(self.faces, self.mask)
        kern.init_linear_profile(self.f_a, self.mask, C_IN, C_OUT)
        self._current_is_a = True

    def load_level_set(
        self, level_set: np.ndarray, lateral: str = "periodic", shifts: np.ndarray | None = None
    ) -> None:
        """Open-fraction walls from a level set (B, Nx, Ny, Nz) float32, pore where < 0:
        face codes (:func:`spinodoid.solvers.subvoxel.face_open_fractions`, less ``shifts`` (B, 3)
        per face direction)
        and frozen-node mask, populations reset to the linear profile. Needs ``faces=True``."""
        if not self.uses_faces:
            raise ValueError("this solver was created without faces=True")
        if level_set.shape != (self.batch, *self.shape) or self.shape[0] < 4:
            raise ValueError(f"level set shape {level_set.shape} != {(self.batch, *self.shape)}")
        self.faces.from_numpy(face_code_batch(level_set, lateral, shifts))
        kern.face_mask(self.faces, self.mask)
        kern.init_linear_profile(self.f_a, self.mask, C_IN, C_OUT)
        self._current_is_a = True

    def step(self, n: int, omega_plus: float, omega_minus: float) -> None:
        """Advance ``n`` fused stream–collide steps."""
        for _ in range(n):
            src, dst = (self.f_a, self.f_b) if self._current_is_a else (self.f_b, self.f_a)
            if self.uses_faces:
                kern.stream_collide_faces(
                    src,
                    dst,
                    self.mask,
                    self.faces,
                    self.table,
                    omega_plus,
                    omega_minus,
                    C_IN,
                    C_OUT,
                    self.per_node,
                )
            else:
                kern.stream_collide(
                    src, dst, self.mask, omega_plus, omega_minus, C_IN, C_OUT, self.per_node
                )
            self._current_is_a = not self._current_is_a

    def plane_fluxes(self) -> np.ndarray:
        """float64 (B, Nx): entry k is the net population per step through the plane between
        layers k − 1 and k (entry 0 is unused)."""
        if self.uses_faces:
            kern.plane_fluxes_faces(
                self.populations, self.faces, self.table, self.flux_rows, C_IN, C_OUT
            )
        else:
            kern.plane_fluxes(self.populations, self.mask, self.flux_rows, C_IN, C_OUT)
        kern.sum_plane_rows(self.flux_rows, self.fluxes)
        return self.fluxes.to_numpy()

    def concentration(self) -> np.ndarray:
        """float32 (B, Nx, Ny, Nz) concentration (C_in = ½ and C_out = −½; 0 in solid)."""
        out = ti.field(ti.f32, shape=(self.batch, *self.shape))
        kern.concentration(self.populations, out)
        return out.to_numpy()

    def solve(
        self,
        tau_minus: float,
        flux_change_tol: float = 1e-5,
        flux_uniformity_tol: float = 1e-4,
        max_steps: int = 10_000,
        check_every: int = 16,
    ) -> LBMRun:
        """Run to steady state (both criteria met for every batch member) or ``max_steps``."""
        omega_plus, omega_minus = relaxation_rates(tau_minus)
        if self.uses_faces:
            self.table.from_numpy(transmission_table(tau_minus))
        diffusivity = (tau_minus - 0.5) / 4.0  # D = c_s² (τ⁻ − ½)
        nx, ny, nz = self.shape
        planes = slice(1, nx)  # the N − 1 planes between consecutive layers
        t0 = time.perf_counter()
        state = _Convergence(self.batch)
        total = 0
        while total < max_steps and not state.done.all():
            n = min(check_every, max_steps - total)
            self.step(n, omega_plus, omega_minus)
            total += n
            state.update(
                self.plane_fluxes()[:, planes], total, flux_change_tol, flux_uniformity_tol
            )
        seconds = time.perf_counter() - t0
        flux = state.mean / (ny * nz)
        eta = flux * (nx - 1) / ((C_IN - C_OUT) * diffusivity)  # eq. 6, J along +x
        return LBMRun(
            eta=eta,
            flux=flux,
            steps=state.steps,
            converged=state.done.copy(),
            flux_change=state.change,
            flux_nonuniformity=state.spread,
            seconds=seconds,
        )


class _Convergence:
    """Per-batch-member convergence bookkeeping of :meth:`LBMSolver.solve` (arrays (B,))."""

    def __init__(self, batch: int):
        self.steps = np.zeros(batch, dtype=np.int64)
        self.done = np.zeros(batch, dtype=bool)
        self.prev = np.full(batch, np.nan)
        self.change = np.full(batch, np.inf)
        self.spread = np.full(batch, np.inf)
        self.mean = np.zeros(batch)

    def update(self, q: np.ndarray, total: int, change_tol: float, spread_tol: float) -> None:
        """Record the plane fluxes q (B, Nx − 1) after ``total`` steps; freeze finished runs."""
        mean_now = q.mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            change_now = np.abs(mean_now - self.prev) / np.abs(mean_now)
            spread_now = (q.max(axis=1) - q.min(axis=1)) / np.abs(mean_now)
        active = ~self.done
        self.mean[active] = mean_now[active]
        self.change[active] = change_now[active]
        self.spread[active] = spread_now[active]
        self.steps[active] = total
        self.done |= (change_now < change_tol) & (spread_now < spread_tol)
        self.prev = mean_now


_SOLVERS: dict[tuple, LBMSolver] = {}
backend.on_reset(_SOLVERS.clear)  # a reset frees their fields

INDEX_LIMIT = 2**31 - 1  # taichi fields index with 32-bit integers


def members_per_launch(batch: int, shape: tuple[int, int, int]) -> int:
    """Batch members one :class:`LBMSolver` may hold without passing the 32-bit index limit.

    The largest field, the populations, holds B·7·Nx·Ny·Nz entries; it must stay at or below
    ``INDEX_LIMIT``. Returns min(batch, ⌊INDEX_LIMIT / (7·Nx·Ny·Nz)⌋).

    Raises:
        ValueError: a single structure of this shape already passes the limit (before any work).
    """
    per_member = 7 * int(np.prod(shape, dtype=np.int64))
    fit = INDEX_LIMIT // per_member
    if fit < 1:
        raise ValueError(
            f"a {shape[0]}×{shape[1]}×{shape[2]} LBM domain needs {per_member} population "
            f"entries, more than the {INDEX_LIMIT} a taichi field can index (32-bit); "
            "use a smaller grid or subvoxel_refine"
        )
    return min(int(batch), int(fit))


def _solver(batch: int, shape: tuple[int, int, int], faces: bool) -> LBMSolver:
    """A cached solver for this batch shape and wall model (fields reused; one at a time)."""
    key = (batch, shape, faces)
    if key not in _SOLVERS:
        for old in list(_SOLVERS):
            _SOLVERS.pop(old).close()
        _SOLVERS[key] = LBMSolver(batch, shape, faces=faces)
    return _SOLVERS[key]


def _as_batch(array: np.ndarray | None) -> np.ndarray | None:
    """(Nx, Ny, Nz) → (1, Nx, Ny, Nz); batches and None pass through."""
    if array is None:
        return None
    array = np.asarray(array)
    return array[None] if array.ndim == 3 else array


def _check_percolation(faces: np.ndarray | None, solid: np.ndarray | None, lateral: str) -> None:
    """Raise :class:`NonPercolatingError` unless every member's conducting graph (face graph
    of the codes, or voxel graph of the pore) joins the inlet to the outlet layer."""
    periodic = lateral == "periodic"
    members = faces if faces is not None else solid
    blocked = []
    for k, member in enumerate(members):
        graph = face_graph(member) if faces is not None else voxel_graph(member == 0)
        if not percolates(graph, 0, periodic):
            blocked.append(k)
    if blocked:
        raise NonPercolatingError(
            f"batch members {blocked}: no open path joins the inlet to the outlet layer"
        )


def lbm_diffusivity(
    solid: np.ndarray | None,
    lateral: str = "periodic",
    arch: str = "cpu",
    tau_minus: float | str = "auto",
    flux_change_tol: float = 1e-5,
    flux_uniformity_tol: float = 1e-4,
    max_steps_per_voxel: int = 200,
    check_every: int | None = None,
    level_set: np.ndarray | None = None,
    match_porosity: bool = False,
) -> LBMRun:
    """η along the first axis of each structure in a batch.

    Args:
        solid: uint8/bool (B, Nx, Ny, Nz) or (Nx, Ny, Nz), nonzero = solid; transport along
            axis 1 of the batch (the first spatial axis). Ignored (may be None) when
            ``level_set`` is given.
        lateral: 'periodic' (default) or 'zero_flux'.
        arch: 'cpu' or 'cuda' (initialises taichi if needed).
        tau_minus: odd relaxation time τ⁻; 'auto' = max(1, Nx/2).
        flux_change_tol, flux_uniformity_tol: convergence criteria (relative).
        max_steps_per_voxel: give up after this many steps per voxel of Nx.
        check_every: steps between convergence checks; default max(8, Nx // 8).
        level_set: float (B, Nx, Ny, Nz) or (Nx, Ny, Nz), pore where < 0: sub-voxel walls
            by open-fraction partial bounce-back
            (:func:`spinodoid.solvers.subvoxel.face_open_fractions`).
        match_porosity: with ``level_set``, the porosity-matched interface
            (:func:`porosity_shifts` per member: the mean open fraction of the faces normal
            to each direction is the member's voxel porosity).

    Returns:
        :class:`LBMRun` with arrays of shape (B,). Batches whose populations would pass the
        32-bit index limit are solved in several launches (:func:`members_per_launch`).

    Raises:
        NonPercolatingError: a member's pore (voxel graph; face graph with ``level_set``)
            does not join the inlet to the outlet, checked before any step.
        ValueError: one member alone passes the index limit.
    """
    level_set = _as_batch(level_set)
    solid = None if level_set is not None else _as_batch(solid)
    if lateral not in ("periodic", "zero_flux"):
        raise ValueError(f"lateral must be 'periodic' or 'zero_flux', got {lateral!r}")
    shape = (level_set if level_set is not None else solid).shape
    per_launch = members_per_launch(shape[0], tuple(shape[1:]))
    backend.init_backend(arch)
    faces = None
    if level_set is not None:
        shifts = porosity_shifts(level_set, lateral) if match_porosity else None
        faces = face_code_batch(level_set, lateral, shifts)
    _check_percolation(faces, solid, lateral)
    tau = max(1.0, shape[1] / 2.0) if tau_minus == "auto" else float(tau_minus)
    nx = shape[1]
    runs = []
    for start in range(0, shape[0], per_launch):
        members = slice(start, min(start + per_launch, shape[0]))
        solver = _solver(members.stop - members.start, tuple(shape[1:]), faces is not None)
        if faces is not None:
            solver.load(np.zeros((solver.batch, *solver.shape), np.uint8), faces[members])
        else:
            solver.load(build_mask(solid[members], lateral))
        runs.append(
            solver.solve(
                tau,
                flux_change_tol=flux_change_tol,
                flux_uniformity_tol=flux_uniformity_tol,
                max_steps=max_steps_per_voxel * nx,
                check_every=check_every or max(8, nx // 8),
            )
        )
    run = _concatenate(runs)
    log.debug("LBM batch %s: steps %s, eta %s", shape, run.steps, run.eta)
    return run


def _concatenate(runs: list[LBMRun]) -> LBMRun:
    """One :class:`LBMRun` from the runs of consecutive launches (seconds added)."""
    if len(runs) == 1:
        return runs[0]
    fields = ("eta", "flux", "steps", "converged", "flux_change", "flux_nonuniformity")
    merged = {name: np.concatenate([getattr(r, name) for r in runs]) for name in fields}
    return LBMRun(**merged, seconds=float(sum(r.seconds for r in runs)))
