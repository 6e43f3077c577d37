"""ABC-PMC importance weights, perturbation kernels and proposals (docs/method.md §5).

A proposal of generation t ≥ 1 draws a particle of generation t − 1 by weight and perturbs it
with a Gaussian in coordinates u(θ): θ itself, or with some columns (the length scales a) in
log. Two kernels (:data:`KERNELS`):

- ``componentwise``, the paper's (Algorithm 1): ``N(0, diag(ν²))``, ν_i = √2 · the weighted
  std of u_i (Beaumont, Cornuet, Marin & Robert, *Biometrika* 96, 2009: "twice the
  variance");
- ``correlated``: ``N(0, Σ)``, Σ = 2 · the weighted covariance of u, the multivariate normal
  kernel of Filippi, Barnes, Cornebise & Stumpf (*Stat. Appl. Genet. Mol. Biol.* 12, 2013).
  A posterior that is narrow along a correlated direction gets proposals along it, where the
  componentwise kernel spends most of them off the ridge and outside the prior's support.

The weights are exact for either kernel:

    w_p ∝ π(θ_p) / q(θ_p),   q(θ) = |∂u/∂θ| Σ_q w_q φ_Σ(u(θ) − u(θ_q)),

with |∂u/∂θ| = Π 1/θ_i over the log columns (the paper's printed *sum* over i in the product
kernel is read as a typo, docs/method.md §5). Proposals outside the prior's support are
redrawn, the particle pick included, without being simulated: that restricts q to the support
and divides it by one constant, which the normalisation of the weights absorbs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

from spinodoid.abc.results import Generation

__all__ = ["KERNELS", "Perturbation", "fit_perturbation", "perturbation_proposer", "pmc_weights"]

#: The perturbation kernels of :func:`fit_perturbation`.
KERNELS: tuple[str, str] = ("componentwise", "correlated")

_KERNEL_ROWS = 1024  # rows of the P x P kernel matrix evaluated at once


@dataclass(frozen=True)
class Perturbation:
    """The Gaussian perturbation kernel of one generation, in coordinates u(θ).

    Attributes:
        chol: lower-triangular factor L of the kernel's covariance Σ = L Lᵀ, shape (d, d)
            float64; diagonal for the componentwise kernel.
        log_columns: columns of θ perturbed in log (must be > 0 on the prior's support).
    """

    chol: np.ndarray
    log_columns: tuple[int, ...] = ()

    @property
    def diagonal(self) -> bool:
        """True for a componentwise kernel (L diagonal)."""
        return bool(np.all(self.chol == np.diag(np.diag(self.chol))))

    @property
    def std(self) -> np.ndarray:
        """Standard deviation of the kernel along each coordinate u_i, shape (d,)."""
        return np.sqrt(np.sum(self.chol**2, axis=1))

    def to_u(self, theta: np.ndarray) -> np.ndarray:
        """u(θ) of (n, d) particles."""
        u = np.array(theta, dtype=np.float64)
        cols = list(self.log_columns)
        u[:, cols] = np.log(u[:, cols])
        return u

    def from_u(self, u: np.ndarray) -> np.ndarray:
        """θ(u) of (n, d) coordinates."""
        theta = np.array(u, dtype=np.float64)
        cols = list(self.log_columns)
        theta[:, cols] = np.exp(theta[:, cols])
        return theta

    def perturb(self, u: np.ndarray, normal: np.ndarray) -> np.ndarray:
        """u + L z for standard normal draws ``normal`` (n, d)."""
        if self.diagonal:
            return u + np.diag(self.chol) * normal
        return u + normal @ self.chol.T

    def log_proposal_density(
        self, theta: np.ndarray, prev_theta: np.ndarray, prev_weights: np.ndarray
    ) -> np.ndarray:
        """log q(θ_p) of the mixture Σ_q w_q K(θ | θ_q) in θ's coordinates, shape (P,).

        Evaluated in row blocks of the P × Q kernel matrix, so large populations fit in memory.
        """
        u, prev_u = self.to_u(theta), self.to_u(prev_theta)
        d = u.shape[1]
        log_det = float(np.sum(np.log(np.diag(self.chol))))
        log_norm = -0.5 * d * math.log(2.0 * math.pi) - log_det
        log_prev_w = np.log(np.asarray(prev_weights, dtype=np.float64))
        scale = np.diag(self.chol)
        white_prev = None if self.diagonal else self._whiten(prev_u)
        log_q = np.empty(u.shape[0])
        for start in range(0, u.shape[0], _KERNEL_ROWS):
            block = u[start : start + _KERNEL_ROWS]
            if white_prev is None:
                z = (block[:, None, :] - prev_u[None, :, :]) / scale
            else:
                z = self._whiten(block)[:, None, :] - white_prev[None, :, :]
            log_kernel = log_norm - 0.5 * np.sum(z * z, axis=-1)
            log_q[start : start + _KERNEL_ROWS] = logsumexp(log_kernel + log_prev_w, axis=1)
        return log_q - self._log_abs_theta(theta)

    def _whiten(self, u: np.ndarray) -> np.ndarray:
        """L⁻¹ u of (n, d) coordinates."""
        return solve_triangular(self.chol, u.T, lower=True).T

    def _log_abs_theta(self, theta: np.ndarray) -> np.ndarray:
        """Σ log θ_i over the log columns: minus the log Jacobian |∂u/∂θ|, shape (n,)."""
        cols = list(self.log_columns)
        return np.sum(np.log(np.asarray(theta, dtype=np.float64)[:, cols]), axis=1)


def fit_perturbation(
    prev: Generation, kind: str = "componentwise", log_columns: Sequence[int] = ()
) -> Perturbation:
    """The kernel of the generation after ``prev``: twice its weighted (co)variance in u.

    Args:
        prev: the previous generation (particles and weights).
        kind: ``"componentwise"`` (the paper's) or ``"correlated"`` (:data:`KERNELS`).
        log_columns: columns perturbed in log.

    Returns:
        The :class:`Perturbation`; a floor of 1e-12 × max(|u|, 1) on each standard deviation
        keeps a collapsed column proposable.
    """
    if kind not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kind!r}")
    shape = Perturbation(np.eye(prev.theta.shape[1]), tuple(int(c) for c in log_columns))
    u, w = shape.to_u(prev.theta), prev.weights
    centred = u - w @ u
    floor = 1e-12 * np.maximum(np.abs(u).max(axis=0), 1.0)
    if kind == "componentwise":
        nu = math.sqrt(2.0) * np.sqrt(w @ centred**2)
        return Perturbation(np.diag(np.maximum(nu, floor)), shape.log_columns)
    covariance = 2.0 * (centred * w[:, None]).T @ centred + np.diag(floor**2)
    return Perturbation(np.linalg.cholesky(covariance), shape.log_columns)


def pmc_weights(
    theta: np.ndarray,
    prev_theta: np.ndarray,
    prev_weights: np.ndarray,
    kernel: Perturbation,
    prior_density: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Importance weights of a new ABC-PMC population: ``w_p ∝ π(θ_p) / q(θ_p)`` (module
    docstring).

    Args:
        theta: new particles, shape (P, d) float64.
        prev_theta: previous particles, shape (Q, d) float64.
        prev_weights: previous normalised weights, shape (Q,) float64.
        kernel: the perturbation the particles were proposed with.
        prior_density: π(θ) for a (P, d) array, returning (P,) float64.

    Returns:
        Normalised weights, shape (P,) float64, summing to 1.
    """
    theta = np.asarray(theta, dtype=np.float64)
    log_q = kernel.log_proposal_density(theta, np.asarray(prev_theta, np.float64), prev_weights)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(prior_density(theta), dtype=np.float64)) - log_q
    return np.exp(log_w - logsumexp(log_w))


def perturbation_proposer(
    prev: Generation,
    kernel: Perturbation,
    in_support: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    outside: list[int],
) -> Callable[[int], np.ndarray]:
    """Proposals of generation t ≥ 1: pick by weight, perturb by the kernel, redraw (pick and
    perturbation) outside the support. ``outside[0]`` accumulates the redrawn proposals."""
    prev_u = kernel.to_u(prev.theta)

    def propose(n: int) -> np.ndarray:
        kept: list[np.ndarray] = []
        have = 0
        for _ in range(10_000):
            pick = rng.choice(len(prev.theta), size=n, p=prev.weights)
            normal = rng.standard_normal((n, prev.theta.shape[1]))
            cand = kernel.from_u(kernel.perturb(prev_u[pick], normal))
            ok = np.asarray(in_support(cand), dtype=bool)
            outside[0] += int(n - ok.sum())
            kept.append(cand[ok])
            have += int(ok.sum())
            if have >= n:
                return np.concatenate(kept)[:n]
        raise RuntimeError(
            "perturbed proposals keep leaving the prior's support (kernel too wide?)"
        )

    return propose
