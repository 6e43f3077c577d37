"""The paper's prior over θ = (a_x, a_y, a_z, ε) (docs/method.md §2, paper "Dataset generation").

Sampling: β ~ U[1, 3] (largest / smallest a), α ~ U[1, β] (middle / smallest a), the vector
(1, α, β) rescaled so that its mean is m ~ U[0.05, 0.2], its values assigned to (a_x, a_y, a_z) by a
uniformly random permutation, and ε ~ U[0.3, 0.85].

Density (used for the ABC-PMC weights, docs/method.md §5). Write the sorted length scales
a₁ ≤ a₂ ≤ a₃; then α = a₂/a₁, β = a₃/a₁, m = (a₁ + a₂ + a₃)/3, and the Jacobian of
(a₁, a₂, a₃) ↦ (α, β, m) is m / a₁³. Hence, inside the support,

    π(θ) = (1/6) · (1/2) · 1/(β − 1) · (1/0.15) · m / a₁³ · (1/0.55),

the 1/6 for the permutation. The paper calls the prior "flat over that parameter space"; this is the
exact density of the sampling procedure the paper describes (and that generation 0 of ABC draws
from), which is what the importance weights need. It is integrable but unbounded as β → 1
(near-isotropic θ), because α ~ U[1, β] concentrates there.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BETA_RANGE",
    "MEAN_A_RANGE",
    "EPS_RANGE",
    "sample_prior",
    "in_support",
    "prior_density",
]

BETA_RANGE = (1.0, 3.0)
MEAN_A_RANGE = (0.05, 0.2)
EPS_RANGE = (0.3, 0.85)
_PERMUTATIONS = np.array(
    [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]], dtype=np.intp
)


def sample_prior(rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw ``n`` parameter vectors, float64 array ``(n, 4)``: columns a_x, a_y, a_z, eps."""
    beta = rng.uniform(*BETA_RANGE, size=n)
    alpha = rng.uniform(1.0, beta)
    mean_a = rng.uniform(*MEAN_A_RANGE, size=n)
    ratios = np.stack([np.ones(n), alpha, beta], axis=1)
    scales = ratios * (mean_a / ratios.mean(axis=1))[:, None]
    order = _PERMUTATIONS[rng.integers(0, 6, size=n)]
    a = np.take_along_axis(scales, order, axis=1)
    eps = rng.uniform(*EPS_RANGE, size=n)
    return np.column_stack([a, eps])


def _sorted_descriptors(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    a = np.sort(np.asarray(theta, dtype=np.float64)[..., :3], axis=-1)
    smallest = a[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = a[..., 2] / smallest
    return a, smallest, beta, a.mean(axis=-1)


def in_support(theta: np.ndarray) -> np.ndarray:
    """Boolean ``(...)``: whether each θ ``(..., 4)`` can be produced by :func:`sample_prior`."""
    theta = np.asarray(theta, dtype=np.float64)
    _, smallest, beta, mean_a = _sorted_descriptors(theta)
    eps = theta[..., 3]
    return (
        (smallest > 0)
        & (beta >= BETA_RANGE[0])
        & (beta <= BETA_RANGE[1])
        & (mean_a >= MEAN_A_RANGE[0])
        & (mean_a <= MEAN_A_RANGE[1])
        & (eps >= EPS_RANGE[0])
        & (eps <= EPS_RANGE[1])
    )


def prior_density(theta: np.ndarray) -> np.ndarray:
    """Prior density π(θ) for θ ``(..., 4)`` (module docstring), float64 ``(...)``, 0 outside."""
    theta = np.asarray(theta, dtype=np.float64)
    inside = in_support(theta)
    _, smallest, beta, mean_a = _sorted_descriptors(theta)
    norm = (1 / 6) * (1 / (BETA_RANGE[1] - BETA_RANGE[0])) / np.diff(MEAN_A_RANGE)[0]
    norm /= np.diff(EPS_RANGE)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        density = norm / (beta - 1.0) * mean_a / smallest**3
    return np.where(inside, density, 0.0)
