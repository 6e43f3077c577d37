"""Steady diffusion in the pore space by a D3Q7 TRT lattice-Boltzmann method (SPEC §3).

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
centres, N − 1 voxels apart), exactly as in the finite-volume reference :mod:`spinodoid.fv`:
the link from layer 1 to a Dirichlet node uses anti-bounce-back with the wall value
C_w = (c_fixed + C_node)/2, the linear interpolant half-way along the link. η from eq. 6,
D_eff = −⟨J⟩ (N − 1) / (c_in − c_out), ⟨J⟩ averaged over the whole cross-section (solid
included): a straight channel of porosity ε gives η = ε.

Convergence: every ``check_every`` steps the plane fluxes (net populations crossing each of
the N − 1 planes normal to the transport axis, summed in float64) are computed; the run stops
when the mean flux changed by < ``flux_change_tol`` (relative) since the last check AND the
plane fluxes agree to ``flux_uniformity_tol`` ((max − min)/|mean|). A run that exceeds
``max_steps_per_voxel`` · N steps is returned with ``converged=False``; callers must not use
its η (:func:`spinodoid.diffusivity.effective_diffusivity` raises).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import taichi as ti

from spinodoid import lbm_kernels as kern

__all__ = [
    "MAGIC_LAMBDA",
    "CUDAUnavailableError",
    "LBMRun",
    "LBMSolver",
    "init_backend",
    "current_arch",
    "build_mask",
    "relaxation_rates",
    "lbm_diffusivity",
]

log = logging.getLogger(__name__)

MAGIC_LAMBDA = 0.25  # Λ = (τ⁺ − ½)(τ⁻ − ½), fixed for the whole pipeline
C_IN = 0.5  # inlet concentration (lattice units); centred on 0 for float32 headroom
C_OUT = -0.5  # outlet concentration

_ARCH: str | None = None


class CUDAUnavailableError(RuntimeError):
    """Raised when ``arch='cuda'`` is requested but taichi cannot use a CUDA device."""


def init_backend(arch: str = "cpu") -> None:
    """Initialise taichi once per process for ``arch`` ('cpu' or 'cuda'); float32 default.

    Calling again with the same arch is a no-op; another arch resets taichi (all fields are
    lost). Raises :class:`CUDAUnavailableError` if CUDA is asked for and not available, rather
    than falling back to the CPU.
    """
    global _ARCH
    if arch not in ("cpu", "cuda"):
        raise ValueError(f"arch must be 'cpu' or 'cuda', got {arch!r}")
    if _ARCH == arch:
        return
    if _ARCH is not None:
        ti.reset()
        _SOLVERS.clear()
    ti.init(arch=ti.cuda if arch == "cuda" else ti.cpu, default_fp=ti.f32, log_level=ti.WARN)
    if arch == "cuda" and ti.lang.impl.current_cfg().arch != ti.cuda:
        ti.reset()
        _ARCH = None
        raise CUDAUnavailableError("arch='cuda' requested but taichi found no usable CUDA device")
    _ARCH = arch
    log.info("taichi backend initialised: %s", arch)


def current_arch() -> str | None:
    """The arch taichi was initialised with by :func:`init_backend`, or None."""
    return _ARCH


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
        uint8 (B, Nx, Ny, Nz) with the bits described in :mod:`spinodoid.lbm_kernels`.
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

    Owns double-buffered float32 populations ``f_a``/``f_b`` (B, 7, Nx, Ny, Nz), the uint8 wall
    mask (B, Nx, Ny, Nz) and float64 plane fluxes (B, Nx). Memory ≈ 57 B · Nx · Ny · Nz bytes.
    """

    def __init__(self, batch: int, shape: tuple[int, int, int]):
        if _ARCH is None:
            raise RuntimeError("call spinodoid.lbm.init_backend(arch) before creating a solver")
        self.batch = int(batch)
        self.shape = tuple(int(n) for n in shape)
        self._builder = ti.FieldsBuilder()
        self.f_a = ti.field(ti.f32)
        self.f_b = ti.field(ti.f32)
        self.mask = ti.field(ti.u8)
        self.fluxes = ti.field(ti.f64)
        self._builder.dense(ti.axes(0, 1, 2, 3, 4), (self.batch, 7, *self.shape)).place(self.f_a)
        self._builder.dense(ti.axes(0, 1, 2, 3, 4), (self.batch, 7, *self.shape)).place(self.f_b)
        self._builder.dense(ti.ijkl, (self.batch, *self.shape)).place(self.mask)
        self._builder.dense(ti.ij, (self.batch, self.shape[0])).place(self.fluxes)
        self._tree = self._builder.finalize()
        self._current_is_a = True

    def close(self) -> None:
        """Free the device memory of this solver's fields."""
        self._tree.destroy()

    @property
    def populations(self):
        """The field holding the latest post-collision populations."""
        return self.f_a if self._current_is_a else self.f_b

    def load(self, mask: np.ndarray) -> None:
        """Upload the wall mask (B, Nx, Ny, Nz) uint8 (see :func:`build_mask`) and reset the
        populations to equilibrium at the linear profile."""
        if mask.shape != (self.batch, *self.shape):
            raise ValueError(f"mask shape {mask.shape} != {(self.batch, *self.shape)}")
        self.mask.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8))
        kern.init_linear_profile(self.f_a, self.mask, C_IN, C_OUT)
        self._current_is_a = True

    def step(self, n: int, omega_plus: float, omega_minus: float) -> None:
        """Advance ``n`` fused stream–collide steps."""
        for _ in range(n):
            src, dst = (self.f_a, self.f_b) if self._current_is_a else (self.f_b, self.f_a)
            kern.stream_collide(src, dst, self.mask, omega_plus, omega_minus, C_IN, C_OUT)
            self._current_is_a = not self._current_is_a

    def plane_fluxes(self) -> np.ndarray:
        """float64 (B, Nx): entry k is the net population per step through the plane between
        layers k − 1 and k (entry 0 is unused)."""
        kern.plane_fluxes(self.populations, self.mask, self.fluxes, C_IN, C_OUT)
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
        diffusivity = (tau_minus - 0.5) / 4.0  # D = c_s² (τ⁻ − ½)
        nx, ny, nz = self.shape
        area = ny * nz
        planes = slice(1, nx)  # the N − 1 planes between consecutive layers
        t0 = time.perf_counter()
        steps = np.zeros(self.batch, dtype=np.int64)
        done = np.zeros(self.batch, dtype=bool)
        prev = np.full(self.batch, np.nan)
        change = np.full(self.batch, np.inf)
        spread = np.full(self.batch, np.inf)
        mean = np.zeros(self.batch)
        total = 0
        while total < max_steps and not done.all():
            n = min(check_every, max_steps - total)
            self.step(n, omega_plus, omega_minus)
            total += n
            q = self.plane_fluxes()[:, planes]
            mean_now = q.mean(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                change_now = np.abs(mean_now - prev) / np.abs(mean_now)
                spread_now = (q.max(axis=1) - q.min(axis=1)) / np.abs(mean_now)
            active = ~done
            mean[active], change[active], spread[active] = (
                mean_now[active],
                change_now[active],
                spread_now[active],
            )
            steps[active] = total
            done |= (change_now < flux_change_tol) & (spread_now < flux_uniformity_tol)
            prev = mean_now
        seconds = time.perf_counter() - t0
        flux = mean / area
        eta = flux * (nx - 1) / ((C_IN - C_OUT) * diffusivity)  # eq. 6, J along +x
        return LBMRun(
            eta=eta,
            flux=flux,
            steps=steps,
            converged=done.copy(),
            flux_change=change,
            flux_nonuniformity=spread,
            seconds=seconds,
        )


_SOLVERS: dict[tuple, LBMSolver] = {}


def _solver(batch: int, shape: tuple[int, int, int]) -> LBMSolver:
    """A cached solver for this batch shape (fields are reused across calls; one at a time)."""
    key = (batch, shape)
    if key not in _SOLVERS:
        for old in list(_SOLVERS):
            _SOLVERS.pop(old).close()
        _SOLVERS[key] = LBMSolver(batch, shape)
    return _SOLVERS[key]


def lbm_diffusivity(
    solid: np.ndarray,
    lateral: str = "periodic",
    arch: str = "cpu",
    tau_minus: float | str = "auto",
    flux_change_tol: float = 1e-5,
    flux_uniformity_tol: float = 1e-4,
    max_steps_per_voxel: int = 200,
    check_every: int | None = None,
) -> LBMRun:
    """η along the first axis of each structure in a batch.

    Args:
        solid: uint8/bool (B, Nx, Ny, Nz) or (Nx, Ny, Nz), nonzero = solid; transport along
            axis 1 of the batch (the first spatial axis).
        lateral: 'periodic' (default) or 'zero_flux'.
        arch: 'cpu' or 'cuda' (initialises taichi if needed).
        tau_minus: odd relaxation time τ⁻; 'auto' = max(1, Nx/2).
        flux_change_tol, flux_uniformity_tol: convergence criteria (relative).
        max_steps_per_voxel: give up after this many steps per voxel of Nx.
        check_every: steps between convergence checks; default max(8, Nx // 8).

    Returns:
        :class:`LBMRun` with arrays of shape (B,).
    """
    solid = np.asarray(solid)
    if solid.ndim == 3:
        solid = solid[None]
    init_backend(arch)
    nx = solid.shape[1]
    tau = max(1.0, nx / 2.0) if tau_minus == "auto" else float(tau_minus)
    solver = _solver(solid.shape[0], tuple(solid.shape[1:]))
    solver.load(build_mask(solid, lateral))
    run = solver.solve(
        tau,
        flux_change_tol=flux_change_tol,
        flux_uniformity_tol=flux_uniformity_tol,
        max_steps=max_steps_per_voxel * nx,
        check_every=check_every or max(8, nx // 8),
    )
    log.debug("LBM batch %s: steps %s, eta %s", solid.shape, run.steps, run.eta)
    return run
