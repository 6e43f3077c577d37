"""ABC-PMC importance weights, perturbation kernel and proposals (docs/method.md §5).

The weights use Beaumont's product Gaussian kernel (Beaumont, Cornuet, Marin & Robert,
*Biometrika* 96, 2009),

    w_p ∝ π(θ_p) / Σ_q w_q Π_i φ((θ_p,i − θ_q,i) / ν_i) / ν_i,

the paper's printed *sum* over i being read as a typo (docs/method.md §5). Proposals of
generation t ≥ 1 draw a particle of generation t − 1 by weight and perturb it with
``N(0, diag(ν²))``, ν_i = √2 · (weighted) std of parameter i (paper Algorithm 1; Beaumont's
"twice the variance" is the same); proposals outside the prior's support are redrawn without
being simulated.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

from spinodoid.abc.results import Generation, weighted_mean_std

__all__ = ["perturbation_proposer", "pmc_weights", "proposal_std"]

_KERNEL_ROWS = 1024  # rows of the P x P kernel matrix evaluated at once


def pmc_weights(
    theta: np.ndarray,
    prev_theta: np.ndarray,
    prev_weights: np.ndarray,
    nu: np.ndarray,
    prior_density: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Importance weights of a new ABC-PMC population (Beaumont et al. 2009, product kernel).

    ``w_p ∝ π(θ_p) / Σ_q w_q Π_i φ((θ_p,i − θ_q,i)/ν_i)/ν_i``, evaluated in log space in row
    blocks so that large populations fit in memory.

    Args:
        theta: new particles, shape (P, d) float64.
        prev_theta: previous particles, shape (Q, d) float64.
        prev_weights: previous normalised weights, shape (Q,) float64.
        nu: proposal standard deviations, shape (d,) float64, all > 0.
        prior_density: π(θ) for a (P, d) array, returning (P,) float64.

    Returns:
        Normalised weights, shape (P,) float64, summing to 1.
    """
    theta = np.asarray(theta, dtype=np.float64)
    prev_theta = np.asarray(prev_theta, dtype=np.float64)
    nu = np.asarray(nu, dtype=np.float64)
    log_prev_w = np.log(np.asarray(prev_weights, dtype=np.float64))
    log_norm = -0.5 * theta.shape[1] * math.log(2.0 * math.pi) - np.sum(np.log(nu))
    log_z = np.empty(theta.shape[0])
    for start in range(0, theta.shape[0], _KERNEL_ROWS):
        block = theta[start : start + _KERNEL_ROWS]
        z = (block[:, None, :] - prev_theta[None, :, :]) / nu
        log_kernel = log_norm - 0.5 * np.sum(z * z, axis=-1)
        log_z[start : start + _KERNEL_ROWS] = logsumexp(log_kernel + log_prev_w, axis=1)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(prior_density(theta), dtype=np.float64)) - log_z
    return np.exp(log_w - logsumexp(log_w))


def perturbation_proposer(
    prev: Generation,
    nu: np.ndarray,
    in_support: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    outside: list[int],
) -> Callable[[int], np.ndarray]:
    """Proposals of generation t ≥ 1: pick by weight, perturb by N(0, ν²), redraw outside support.

    ``outside[0]`` accumulates the number of proposals redrawn (never simulated).
    """

    def propose(n: int) -> np.ndarray:
        kept: list[np.ndarray] = []
        have = 0
        for _ in range(10_000):
            pick = rng.choice(len(prev.theta), size=n, p=prev.weights)
            cand = prev.theta[pick] + nu * rng.standard_normal((n, prev.theta.shape[1]))
            ok = np.asarray(in_support(cand), dtype=bool)
            outside[0] += int(n - ok.sum())
            kept.append(cand[ok])
            have += int(ok.sum())
            if have >= n:
                return np.concatenate(kept)[:n]
        raise RuntimeError("perturbed proposals keep leaving the prior's support (nu too large?)")

    return propose


def proposal_std(prev: Generation) -> np.ndarray:
    """ν_i = √2 · std(θ_i) (Algorithm 1), std weighted by the previous generation's weights."""
    nu = math.sqrt(2.0) * weighted_mean_std(prev.theta, prev.weights)[1]
    floor = 1e-12 * np.maximum(np.abs(prev.theta).max(axis=0), 1.0)
    return np.maximum(nu, floor)
