"""Spinodoid structures: thresholded anisotropic GRFs (eqs. 2, 3, 12; docs/method.md §1).

A structure is defined bit for bit by ``(theta, seed, size)``:

1. White noise ``W ~ N(0, 1)`` per voxel from a counter-based generator (splitmix64 + Box–Muller in
   float64), so that numpy and torch (CPU or CUDA) draw the *same* noise for a seed without
   transferring it; the noise of voxel ``i`` (C order over ``(x, y, z)``) depends only on
   ``(seed, i)``.
2. ``Ψ = IFFT(FFT(W) · γ(q)^½)`` with the spectral density of eq. 3,
   ``γ(q) = [1 + ((a_x q_x)² + (a_y q_y)² + (a_z q_z)²)⁴]⁻²``, where ``q`` is the frequency in
   cycles per domain length, i.e. the integer FFT wavenumber (docs/method.md §1). ``Ψ`` is
   scaled to unit variance (a monotone rescaling that changes no voxel).
3. Threshold at the ε-quantile ``T`` (eq. 2): solid ``1`` where ``Ψ ≥ T``, pore ``0`` where
   ``Ψ < T``; exactly ``round(ε N³)`` voxels are pore (up to exact ties, which have probability
   zero). numpy finds ``T`` with ``np.partition``, torch with an exact bucket select
   (:func:`kth_smallest_torch`); both give the order statistic itself, not an interpolated
   quantile.

FFTs run in float32 (``scipy.fft`` on the CPU, ``torch.fft`` on a device); the two backends agree
except for voxels whose ``Ψ`` lies within float rounding of ``T``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft

from spinodoid.hashing import (
    GOLDEN,
    MASK64,
    as_signed,
    mix64_inplace,
    mix64_int,
    mix64_torch,
    srl_torch,
)

__all__ = [
    "spectral_density",
    "white_noise",
    "gaussian_random_field",
    "level_set",
    "generate_structure",
    "refine_level_set",
    "white_noise_torch",
    "level_set_torch",
    "generate_structures_torch",
    "kth_smallest_torch",
]

_PI = np.pi
_TWO_PI = 2.0 * np.pi
_INV_2_32 = 1.0 / 4294967296.0


def _validate(theta_or_a: Sequence[float], size: int) -> None:
    if size < 2:
        raise ValueError(f"size must be at least 2 voxels, got {size}")
    if any(not np.isfinite(v) or v <= 0 for v in theta_or_a[:3]):
        raise ValueError(f"length scales a_x, a_y, a_z must be positive, got {theta_or_a[:3]}")


#: Box–Muller pairs per pass of :func:`white_noise`: its working arrays (≈ 0.5 MB each) stay in
#: the CPU cache; the values do not depend on it.
_NOISE_CHUNK = 1 << 16


def _pair_bits(start: int, stop: int, key: int) -> np.ndarray:
    """``splitmix64(key + (j + 1)·golden)`` for pairs ``start <= j < stop``, uint64 (wrapping)."""
    with np.errstate(over="ignore"):
        counters = np.arange(start + 1, stop + 1, dtype=np.uint64) * np.uint64(GOLDEN)
        counters += np.uint64(key)
    return mix64_inplace(counters)


def _seed_key(seed: int) -> int:
    """64-bit stream key of a seed (a scalar splitmix64 step), so nearby seeds are unrelated."""
    if seed < 0 or seed >= 1 << 63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    return mix64_int((seed + GOLDEN) & MASK64)


def white_noise(seed: int, size: int) -> np.ndarray:
    """Standard normal white noise of a seed, float32, shape ``(size, size, size)``.

    Pair ``j`` of voxels ``(2j, 2j+1)`` (C order) takes ``r·cos φ`` and ``r·sin φ`` of one
    Box–Muller draw whose two uniforms are the high and low 32 bits of
    ``splitmix64(key(seed) + (j + 1)·golden)``.
    """
    n = size**3
    pairs = (n + 1) // 2
    key = _seed_key(seed)
    noise = np.empty((pairs, 2), dtype=np.float32)
    for start in range(0, pairs, _NOISE_CHUNK):
        stop = min(start + _NOISE_CHUNK, pairs)
        _box_muller(_pair_bits(start, stop, key), noise[start:stop])
    return noise.reshape(-1)[:n].reshape(size, size, size)


def _box_muller(bits: np.ndarray, out: np.ndarray) -> None:
    """Write ``r·cos φ``, ``r·sin φ`` (float32 ``(P, 2)`` ``out``) of P uint64 draws ``bits``:
    the high 32 bits give the radius's uniform, the low 32 bits the angle's."""
    radius = (bits >> np.uint64(32)).astype(np.float64)
    radius += 0.5
    radius *= _INV_2_32
    np.log(radius, out=radius)
    radius *= -2.0
    np.sqrt(radius, out=radius)
    angle = (bits & np.uint64(0xFFFFFFFF)).astype(np.float64)
    angle += 0.5
    angle *= _TWO_PI * _INV_2_32
    cosine = np.cos(angle)
    out[:, 0] = radius * cosine
    out[:, 1] = radius * _sine_from_cosine(cosine, angle)


def _sine_from_cosine(cosine, angle):
    """sin φ for φ in (0, 2π) as ±√(1 − cos²φ): one correctly rounded sqrt instead of a sin.

    Works on numpy arrays and torch tensors alike.
    """
    sine = 1.0 - cosine * cosine
    sine = sine.clip(min=0.0) ** 0.5
    return sine * (1.0 - 2.0 * (angle > _PI))


def _wavenumbers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer wavenumbers (cycles per domain length) of a full and a half (rfft) axis, float64."""
    full = np.fft.fftfreq(size, d=1.0 / size)
    half = np.fft.rfftfreq(size, d=1.0 / size)
    return full, half


def _amplitude(a: Sequence[float], size: int) -> np.ndarray:
    """γ(q)^½ = 1 / (1 + s⁴) with s = Σ (a_i q_i)² on the rfft grid, float64."""
    full, half = _wavenumbers(size)
    s = (a[0] * full[:, None, None]) ** 2 + (a[1] * full[None, :, None]) ** 2
    s = s + (a[2] * half[None, None, :]) ** 2
    s *= s
    s *= s
    s += 1.0
    return np.reciprocal(s, out=s)


def spectral_density(a: Sequence[float], size: int) -> np.ndarray:
    """γ(q) of eq. 3 on the rfft grid, float64, shape ``(size, size, size // 2 + 1)``.

    ``a = (a_x, a_y, a_z)`` in units of the domain length; q in cycles per domain length.
    """
    return _amplitude(a, size) ** 2


def _rfft_plane_weights(size: int) -> np.ndarray:
    """Multiplicity of each rfft plane in the full spectrum: interior planes count twice."""
    weight = np.full(size // 2 + 1, 2.0)
    weight[0] = 1.0
    if size % 2 == 0:
        weight[-1] = 1.0
    return weight


def _filter_and_scale(a: Sequence[float], size: int) -> tuple[np.ndarray, float]:
    """Amplitude filter γ^½ (float32, rfft grid) and the factor giving Ψ unit variance."""
    amplitude = _amplitude(a, size)
    # Var Ψ = Σ_q γ(q) / N³ over the full grid.
    power = np.einsum("ijk,ijk->k", amplitude, amplitude)
    variance = float(power @ _rfft_plane_weights(size)) / size**3
    return amplitude.astype(np.float32), 1.0 / np.sqrt(variance)


def gaussian_random_field(a: Sequence[float], seed: int, size: int) -> np.ndarray:
    """Periodic anisotropic GRF Ψ (eq. 12), float32, shape ``(size,)*3``, axes ``(x, y, z)``.

    Zero mean and unit variance in expectation. ``a = (a_x, a_y, a_z)`` (domain lengths).
    """
    _validate(a, size)
    amplitude, scale = _filter_and_scale(a, size)
    spectrum = scipy.fft.rfftn(white_noise(seed, size), workers=1)
    spectrum *= amplitude
    field = scipy.fft.irfftn(spectrum, s=(size, size, size), workers=1)
    field *= np.float32(scale)
    return field


def _threshold(field: np.ndarray, eps: float) -> np.float32:
    """The ε-quantile T of a field such that exactly ``round(ε·field.size)`` values are < T."""
    if not 0.0 < eps < 1.0:
        raise ValueError(f"porosity eps must be in (0, 1), got {eps}")
    flat = field.reshape(-1)
    n_pore = int(round(eps * flat.size))
    if n_pore == 0:
        return flat.min()
    if n_pore == flat.size:
        return np.nextafter(flat.max(), np.float32(np.inf))
    return np.partition(flat, n_pore)[n_pore]


def level_set(theta: Sequence[float], seed: int, size: int) -> np.ndarray:
    """Signed level set ``Ψ − T``, float32, shape ``(size,)*3``: pore where < 0, solid where ≥ 0.

    ``theta = (a_x, a_y, a_z, eps)``; ``eps`` is the porosity (fraction of pore voxels).
    """
    field = gaussian_random_field(theta[:3], seed, size)
    field -= _threshold(field, float(theta[3]))
    return field


def generate_structure(theta: Sequence[float], seed: int, size: int) -> np.ndarray:
    """Binary spinodoid structure, uint8 ``(size,)*3``, axes (x, y, z); 1 = solid, 0 = pore."""
    return (level_set(theta, seed, size) >= 0).view(np.uint8)


def refine_level_set(field: np.ndarray, factor: int) -> np.ndarray:
    """The same periodic level set sampled on a grid ``factor`` times finer, float32.

    Spectral (Fourier) interpolation along each axis with ``scipy.signal.resample``: exact for a
    band-limited periodic field such as Ψ − T, so the refined zero set is the same surface resolved
    with ``factor``³ more voxels. Voxel ``i`` of the input sits at fine index ``factor·i``.
    """
    if factor < 1 or int(factor) != factor:
        raise ValueError(f"refinement factor must be a positive integer, got {factor}")
    import scipy.signal  # 0.6 s to import; only refinement needs it

    refined = field.astype(np.float64)
    for axis in range(3):
        refined = scipy.signal.resample(refined, refined.shape[axis] * int(factor), axis=axis)
    return refined.astype(np.float32)


# ----------------------------------------------------------------------------- torch backend


def white_noise_torch(seeds, size: int, device):
    """:func:`white_noise` for a batch of seeds on a torch device, float32 ``(B, N, N, N)``."""
    import torch

    n = size**3
    pairs = (n + 1) // 2
    keys = [as_signed(_seed_key(int(seed))) for seed in seeds]
    keys = torch.tensor(keys, dtype=torch.int64, device=device)
    counter = torch.arange(1, pairs + 1, dtype=torch.int64, device=device) * as_signed(GOLDEN)
    bits = mix64_torch(counter[None, :] + keys[:, None])
    radius = torch.sqrt(-2.0 * torch.log((srl_torch(bits, 32).to(torch.float64) + 0.5) * _INV_2_32))
    angle = ((bits & 0xFFFFFFFF).to(torch.float64) + 0.5) * (_TWO_PI * _INV_2_32)
    del bits
    cosine = torch.cos(angle)
    noise = torch.stack([radius * cosine, radius * _sine_from_cosine(cosine, angle)], dim=-1)
    return noise.to(torch.float32).reshape(len(keys), -1)[:, :n].reshape(-1, size, size, size)


def _filters_torch(a, size: int, device):
    """γ^½ (float32, rfft grid, ``(B, N, N, N//2+1)``) and unit-variance scales ``(B,)``."""
    import torch

    full, half = (torch.from_numpy(q).to(device) for q in _wavenumbers(size))
    a = torch.as_tensor(a, dtype=torch.float64, device=device)
    s = (
        (a[:, 0, None, None, None] * full[:, None, None]) ** 2
        + (a[:, 1, None, None, None] * full[None, :, None]) ** 2
        + (a[:, 2, None, None, None] * half[None, None, :]) ** 2
    )
    amplitude = 1.0 / (1.0 + (s * s) * (s * s))
    weight = torch.from_numpy(_rfft_plane_weights(size)).to(device)
    variance = ((amplitude * amplitude).sum(dim=(1, 2)) * weight).sum(dim=-1) / size**3
    return amplitude.to(torch.float32), (1.0 / torch.sqrt(variance)).to(torch.float32)


_SELECT_BUCKETS = 4096  # value buckets of kth_smallest_torch (~1e-3 of a GRF per bucket)


def kth_smallest_torch(values, rank):
    """``sort(values[r])[rank[r]]`` for every row r, without sorting the rows.

    Exact (the same value as ``torch.sort``, ties included): a weakly monotone map sends each
    value to one of 4096 equal-width buckets between its row's min and max, one bincount finds
    the bucket holding the rank, and only that bucket's values (about 1e-3 of a Gaussian row)
    are sorted. A device sort of the whole rows costs ~100 bytes of memory traffic per value;
    this costs ~30.

    Args:
        values: float tensor (R, n), finite.
        rank: int64 tensor (R,) on the same device, 0 ≤ rank < n.

    Returns:
        Tensor (R,) of the dtype of ``values``.
    """
    import torch

    rows, buckets = values.shape[0], _SELECT_BUCKETS
    low = values.amin(dim=1, keepdim=True)
    scale = buckets / (values.amax(dim=1, keepdim=True) - low)
    scale = torch.where(torch.isfinite(scale), scale, 0.0)  # a constant row: one bucket
    bucket = ((values - low) * scale).to(torch.int32).clamp_(0, buckets - 1)
    offset = torch.arange(rows, device=values.device, dtype=torch.int32)[:, None] * buckets
    counts = torch.bincount((bucket + offset).reshape(-1), minlength=rows * buckets)
    counts = counts.reshape(rows, buckets)
    cumulative = counts.cumsum(dim=1)
    chosen = (cumulative <= rank[:, None]).sum(dim=1, keepdim=True)  # holds the rank-th value
    per_row = counts.gather(1, chosen)[:, 0]
    below = cumulative.gather(1, chosen)[:, 0] - per_row
    inside = values[bucket == chosen.to(torch.int32)]  # row-major: row 0's values first
    row_of = torch.repeat_interleave(torch.arange(rows, device=values.device), per_row)
    position = torch.arange(len(inside), device=values.device) - torch.repeat_interleave(
        per_row.cumsum(0) - per_row, per_row
    )
    padded = torch.full(
        (rows, int(per_row.max())), torch.inf, dtype=values.dtype, device=values.device
    )
    padded[row_of, position] = inside
    return padded.sort(dim=1).values.gather(1, (rank - below)[:, None])[:, 0]


def level_set_torch(thetas, seeds, size: int, device, chunk: int = 16):
    """Batched :func:`level_set` on a torch device: float32 ``(B, N, N, N)``, pore where < 0.

    ``thetas`` is ``(B, 4)`` (array or tensor), ``seeds`` ``(B,)`` non-negative integers. Every
    step runs batched on the device, ``chunk`` structures at a time (bounding the float64
    temporaries of the noise, about 40 bytes per voxel and structure).
    """
    import torch

    thetas = np.asarray(thetas.cpu() if hasattr(thetas, "cpu") else thetas, dtype=np.float64)
    seeds = [int(s) for s in (seeds.tolist() if hasattr(seeds, "tolist") else seeds)]
    if thetas.ndim != 2 or thetas.shape[1] != 4 or len(seeds) != thetas.shape[0]:
        raise ValueError(f"thetas must be (B, 4) with B seeds, got {thetas.shape}, {len(seeds)}")
    n = size**3
    n_pore = np.rint(thetas[:, 3] * n).astype(np.int64)
    for theta, pores in zip(thetas, n_pore, strict=True):
        _validate(theta, size)
        if not 0 < pores < n:
            raise ValueError(f"porosity eps must leave both phases non-empty, got {theta[3]}")
    fields = torch.empty((len(seeds), size, size, size), dtype=torch.float32, device=device)
    for start in range(0, len(seeds), chunk):
        stop = min(start + chunk, len(seeds))
        amplitude, scale = _filters_torch(thetas[start:stop, :3], size, device)
        spectrum = torch.fft.rfftn(
            white_noise_torch(seeds[start:stop], size, device), dim=(1, 2, 3)
        )
        field = torch.fft.irfftn(spectrum * amplitude, s=(size,) * 3, dim=(1, 2, 3))
        field *= scale[:, None, None, None]
        flat = field.reshape(stop - start, -1)
        # T is the (n_pore + 1)-th smallest value, as in the numpy path (eq. 2).
        threshold = kth_smallest_torch(flat, torch.as_tensor(n_pore[start:stop], device=device))
        fields[start:stop] = field - threshold[:, None, None, None]
    return fields


def generate_structures_torch(thetas, seeds, size: int, device):
    """Batched :func:`generate_structure` on a torch device: uint8 ``(B, N, N, N)``, 1 = solid."""
    import torch

    return (level_set_torch(thetas, seeds, size, device) >= 0).to(torch.uint8)
