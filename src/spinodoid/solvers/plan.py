"""The solver's settings (config ``simulate``) and the memory a solve will need.

Memory is planned before a solve (:func:`plan_memory`): the LBM holds double-buffered float32
D3Q7 populations and a uint8 wall mask, 57 bytes per solved cell
(``spinodoid.solvers.lbm.LBMSolver``);
multigrid 45 bytes (``spinodoid.solvers.multigrid``); the sub-voxel interface solves the level set
refined ``subvoxel_refine`` times per axis, twice that for the finer solve of ``extrapolate``
(``spinodoid.solvers.diffusivity``); the host also holds the structure, its level set and the
transient
arrays of the GRF and of the solver's preparation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "LBM_BYTES_PER_CELL",
    "LBM_SUBVOXEL_BYTES_PER_CELL",
    "LBM_HOST_BYTES_PER_CELL",
    "FV_BYTES_PER_CELL",
    "HOST_BYTES_PER_CELL",
    "MULTIGRID_BYTES_PER_CELL",
    "MULTIGRID_HOST_BYTES_PER_CELL",
    "MemoryPlan",
    "MemoryPlanError",
    "SolverSettings",
    "plan_memory",
    "check_memory",
]

log = logging.getLogger(__name__)

#: LBM fields per solved cell: 2 buffers x 7 populations x float32 + uint8 wall mask
#: (spinodoid.solvers.lbm.LBMSolver); on the device with arch='cuda', on the host with 'cpu'.
LBM_BYTES_PER_CELL = 2 * 7 * 4 + 1
#: With the sub-voxel interface the LBM also keeps 3 bytes of face open fractions per node.
LBM_SUBVOXEL_BYTES_PER_CELL = LBM_BYTES_PER_CELL + 3
#: Host arrays of the LBM driver per solved cell besides its fields (transport-axis copy,
#: wall mask construction): measured 85 B/cell in total at 64³ (voxel, cpu) minus the 57 above.
LBM_HOST_BYTES_PER_CELL = 28
#: Finite-volume solver per cell (sparse matrix, AMG hierarchy, CG vectors): measured 480 B
#: (voxel) and 580 B (subvoxel) peak at 64³, rounded up.
FV_BYTES_PER_CELL = 640
#: Multigrid solver per cell: its taichi fields (spinodoid.solvers.multigrid.BYTES_PER_CELL plus the
#: coarse levels, < 1/7 of 28 B), on the device with arch='cuda', on the host with 'cpu'.
MULTIGRID_BYTES_PER_CELL = 45
#: Host arrays of the multigrid driver per cell: face codes (3 B) and the transport-axis copy of
#: the level set (4 B) or voxels (1 B).
MULTIGRID_HOST_BYTES_PER_CELL = 8
#: Host arrays per structure cell kept during a solve: voxels (1) + level set (4), plus the peak
#: of the GRF transients (uint64 counters and bits, float64 Box–Muller, complex64 FFT), ≈ 40 B.
HOST_BYTES_PER_CELL = 48

_GIB = 1024**3


class MemoryPlanError(ValueError):
    """A solve that would need more memory than allowed."""


@dataclass(frozen=True)
class SolverSettings:
    """Settings of the solver (config ``simulate``), see :func:`spinodoid.solvers.diffusivity`."""

    solver: str = "lbm"
    interface: str = "subvoxel"
    arch: str = "cpu"
    flux_change_tol: float = 1e-5
    flux_uniformity_tol: float = 1e-4
    max_steps_per_voxel: int = 200
    subvoxel_refine: int = 1
    extrapolate: bool = False

    @classmethod
    def from_config(cls, simulate: Mapping[str, object]) -> SolverSettings:
        """Settings from the ``simulate`` section of the config (defaults for absent keys)."""
        return cls(**{key: simulate[key] for key in cls.__dataclass_fields__ if key in simulate})

    @property
    def finest_refine(self) -> int:
        """Refinement of the finest solve: ``subvoxel_refine``, doubled with ``extrapolate``."""
        return self.subvoxel_refine * (2 if self.extrapolate else 1)


@dataclass(frozen=True)
class MemoryPlan:
    """Planned peak memory of one solve, in bytes: ``device`` (LBM or multigrid fields; on the
    host too when ``arch='cpu'``) and ``host`` (everything held in main memory)."""

    size: int
    device_bytes: int
    host_bytes: int

    @property
    def peak_gib(self) -> float:
        """The larger of the two, in GiB."""
        return max(self.device_bytes, self.host_bytes) / _GIB


def plan_memory(size: int, settings: SolverSettings) -> MemoryPlan:
    """Planned peak memory of generating one structure of side ``size`` and solving it.

    The LBM with the sub-voxel interface runs on the level set refined ``subvoxel_refine``
    times (1 by default), twice that with ``extrapolate``, i.e. on
    ``(size·finest_refine)³`` cells.
    """
    cells = int(size) ** 3
    host = cells * HOST_BYTES_PER_CELL
    if settings.solver == "fv":
        return MemoryPlan(int(size), 0, host + cells * FV_BYTES_PER_CELL)
    subvoxel = settings.interface == "subvoxel"
    solved = (int(size) * (settings.finest_refine if subvoxel else 1)) ** 3
    if settings.solver == "multigrid":
        fields = solved * MULTIGRID_BYTES_PER_CELL
        host += solved * MULTIGRID_HOST_BYTES_PER_CELL + (fields if settings.arch == "cpu" else 0)
        return MemoryPlan(size=int(size), device_bytes=fields, host_bytes=host)
    lbm = solved * (LBM_SUBVOXEL_BYTES_PER_CELL if subvoxel else LBM_BYTES_PER_CELL)
    host += solved * LBM_HOST_BYTES_PER_CELL + (lbm if settings.arch == "cpu" else 0)
    return MemoryPlan(size=int(size), device_bytes=lbm, host_bytes=host)


def _refinement_note(settings: SolverSettings) -> str:
    """``", 2x refined"`` (the finest grid of a refined sub-voxel solve), else ``""``."""
    if settings.interface != "subvoxel" or settings.finest_refine == 1:
        return ""
    return f", {settings.finest_refine}x refined"


def check_memory(size: int, settings: SolverSettings, max_memory_gib: float) -> MemoryPlan:
    """:func:`plan_memory`, raising :class:`MemoryPlanError` above ``max_memory_gib`` GiB."""
    plan = plan_memory(size, settings)
    if plan.peak_gib > max_memory_gib:
        finer = "set simulate.extrapolate: false (its second solve is 2x finer), "
        raise MemoryPlanError(
            f"a {size}³ solve ({settings.solver}, {settings.interface} interface"
            f"{_refinement_note(settings)}, arch={settings.arch}) needs about "
            f"{plan.peak_gib:.1f} GiB "
            f"({plan.device_bytes / _GIB:.1f} GiB of solver fields, "
            f"{plan.host_bytes / _GIB:.1f} GiB on the host), more than "
            f"upscale.max_memory_gib = {max_memory_gib:g}; lower upscale.factor, "
            f"{finer if settings.extrapolate else ''}"
            "use a larger device, or raise the limit"
        )
    log.info("memory plan for %d³: %.2f GiB (limit %g GiB)", size, plan.peak_gib, max_memory_gib)
    return plan
