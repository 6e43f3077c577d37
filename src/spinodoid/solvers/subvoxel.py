"""The sub-voxel interface: open fractions of the voxel faces from the level set, and the
porosity-matched interface (docs/lbm.md, "Wall models" and "Porosity-matched interface").

The open fraction of a face is the share of its 8 × 8 sample points where the trilinear
interpolant of the level set is < 0, coded 0..64 (:func:`face_open_fractions`; the same definition
as :mod:`spinodoid.solvers.fv`). The porosity-matched interface subtracts one threshold shift per
face
direction (:func:`porosity_shifts`) so that the mean open fraction of each direction's faces
equals the voxel porosity: with the transport faces' mean equal to ε, η ≤ ε holds exactly.
The LBM, the finite volumes and the multigrid solver all read their faces from here.
"""

from __future__ import annotations

import numpy as np

from spinodoid.solvers import lbm_kernels as kern
from spinodoid.solvers.backend import ensure_backend

__all__ = [
    "FACE_SAMPLES",
    "face_open_fractions",
    "face_code_batch",
    "open_fraction_means",
    "porosity_shifts",
]

FACE_SAMPLES = 8  # open fractions on 8 × 8 points per face: codes 0..64 (as spinodoid.solvers.fv)


def face_open_fractions(
    level_set: np.ndarray, lateral: str = "periodic", match_porosity: bool = False
) -> np.ndarray:
    """Open-fraction codes of every voxel face, transport axis first (runs on the taichi arch).

    Args:
        level_set: float (Nx, Ny, Nz), pore where < 0 (e.g. Ψ − T), transport along axis 0.
        lateral: 'periodic' or 'zero_flux' faces normal to y and z.
        match_porosity: subtract the :func:`porosity_shifts` of the level set on the faces
            normal to each direction, so that their mean open fraction is its voxel porosity.

    Returns:
        uint8 (3, Nx, Ny, Nz): entry [d, x, y, z] is the number of 8 × 8 midpoint samples on
        the face between voxel (x, y, z) and its +d neighbour where the level set, trilinear
        between voxel centres (mirrored across the inlet and outlet planes), is < 0; the open
        fraction is code / 64, the definition of :mod:`spinodoid.solvers.fv`'s sub-voxel mode. Faces
        beyond the last x layer, and the wrapping lateral faces when ``lateral='zero_flux'``,
        are 0.
    """
    ensure_backend()
    batch = np.asarray(level_set)[None]
    shifts = porosity_shifts(batch, lateral) if match_porosity else None
    return face_code_batch(batch, lateral, shifts)[0]


def face_code_batch(
    level_set: np.ndarray, lateral: str, shifts: np.ndarray | None = None
) -> np.ndarray:
    """:func:`face_open_fractions` of a batch (B, Nx, Ny, Nz) → uint8 (B, 3, Nx, Ny, Nz);
    ``shifts``: float32 (B, 3) subtracted from the level set on the faces normal to x, y, z."""
    psi = np.ascontiguousarray(level_set, dtype=np.float32)
    shifts = _shift_array(shifts, psi.shape[0])
    codes = np.zeros((psi.shape[0], 3, *psi.shape[1:]), dtype=np.uint8)
    kern.face_codes(psi, shifts, codes, int(lateral == "periodic"), FACE_SAMPLES)
    return codes


def _shift_array(shifts: np.ndarray | None, batch: int) -> np.ndarray:
    if shifts is None:
        return np.zeros((batch, 3), dtype=np.float32)
    return np.ascontiguousarray(np.broadcast_to(shifts, (batch, 3)), dtype=np.float32)


def open_fraction_means(
    level_set: np.ndarray, lateral: str = "periodic", shifts: np.ndarray | None = None
) -> np.ndarray:
    """Mean open fraction of the faces a solve uses, per batch member and direction.

    Args:
        level_set: float (B, Nx, Ny, Nz), transport along axis 1.
        lateral: 'periodic' or 'zero_flux'.
        shifts: float32 (B, 3) or (3,) subtracted on the faces normal to x, y, z (default 0).

    Returns:
        float64 (B, 3): over the faces normal to x between layers 0 and Nx − 1 and the
        lateral faces of every layer (zero-flux wrapping faces count as closed).
    """
    ensure_backend()
    psi = np.ascontiguousarray(level_set, dtype=np.float32)
    return _open_means(psi, _shift_array(shifts, psi.shape[0]), int(lateral == "periodic"))


def _open_means(psi: np.ndarray, shifts: np.ndarray, periodic: int) -> np.ndarray:
    nb, nx, ny, nz = psi.shape
    rows = np.zeros((nb, 3, nx), dtype=np.int64)
    kern.open_sample_counts(psi, shifts, rows, periodic, FACE_SAMPLES)
    counts = rows.sum(axis=2)
    faces = np.array([(nx - 1) * ny * nz, nx * ny * nz, nx * ny * nz], dtype=np.float64)
    return counts / (faces * FACE_SAMPLES**2)


def porosity_shifts(
    level_set: np.ndarray,
    lateral: str = "periodic",
    porosity: np.ndarray | None = None,
    tol: float = 1e-6,
) -> np.ndarray:
    """Threshold shifts that give the faces normal to each direction the voxel porosity.

    Trilinear interpolation between voxel centres smooths a level set whose features span a
    few voxels, pulling face open fractions towards ½ (docs/lbm.md, "Porosity-matched
    interface"). Subtracting a constant s_d from the interpolant on the faces normal to d,
    chosen so that their mean open fraction (:func:`open_fraction_means`) is the
    voxel porosity, restores it; s_d is small where the level set is resolved. Root finding:
    bracket from 0, then Illinois false position (≈ 6–10 evaluations of the count kernel).

    Args:
        level_set: float (B, Nx, Ny, Nz), pore where < 0, transport along axis 1.
        lateral: 'periodic' or 'zero_flux' (as for the solve).
        porosity: float (B,) target; default the fraction of voxels with level set < 0.
        tol: stops when every mean open fraction is within ``tol`` of the target.

    Returns:
        float32 (B, 3) shifts s_x, s_y, s_z (level set units); deterministic.
    """
    ensure_backend()
    psi = np.ascontiguousarray(level_set, dtype=np.float32)
    if psi.ndim != 4 or psi.shape[1] < 3:
        raise ValueError(f"expected (B, Nx, Ny, Nz) with Nx >= 3, got shape {psi.shape}")
    target = (psi < 0).mean(axis=(1, 2, 3)) if porosity is None else np.asarray(porosity)
    target = np.broadcast_to(np.asarray(target, dtype=np.float64)[:, None], (psi.shape[0], 3))
    periodic = int(lateral == "periodic")

    def excess(shift: np.ndarray) -> np.ndarray:
        return _open_means(psi, shift.astype(np.float32), periodic) - target

    # bracket the root (excess increases with the shift): from 0, steps of 0.25 σ doubling
    lo, hi = np.zeros(target.shape), np.zeros(target.shape)
    f_lo = excess(lo)
    f_hi = f_lo.copy()
    step = 0.25
    while np.any(f_lo > 0) or np.any(f_hi < 0):
        low, high = f_lo > 0, f_hi < 0
        lo = np.where(low, -step, lo)
        hi = np.where(high, step, hi)
        f_t = excess(np.where(low, lo, hi))
        f_lo, f_hi = np.where(low, f_t, f_lo), np.where(high, f_t, f_hi)
        step *= 2
    return _illinois(excess, lo, hi, f_lo, f_hi, tol)


def _illinois(excess, lo, hi, f_lo, f_hi, tol: float) -> np.ndarray:
    """Roots of the increasing ``excess`` (arrays) in [lo, hi] by the Illinois false-position
    method, each stopped once |excess| <= tol; float32."""
    root = np.where(np.abs(f_lo) <= tol, lo, hi).astype(np.float32)
    done = (np.abs(f_lo) <= tol) | (np.abs(f_hi) <= tol)
    side = np.zeros(lo.shape, dtype=np.int8)
    for _ in range(60):
        if done.all():
            break
        trial = hi - f_hi * (hi - lo) / np.where(f_hi > f_lo, f_hi - f_lo, 1.0)
        trial = np.where(done, root, trial).astype(np.float32)
        f_t = excess(trial)
        root = np.where(done, root, trial)
        done |= np.abs(f_t) <= tol
        up = f_t > 0
        f_lo = np.where(up & (side == 1), f_lo / 2, f_lo)
        f_hi = np.where(~up & (side == -1), f_hi / 2, f_hi)
        hi, f_hi = np.where(up, trial, hi), np.where(up, f_t, f_hi)
        lo, f_lo = np.where(up, lo, trial), np.where(up, f_lo, f_t)
        side = np.where(up, 1, -1).astype(np.int8)
        if np.all(hi - lo < 1e-7):
            break
    return root.astype(np.float32)
