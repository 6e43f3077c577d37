"""The results of an ABC-PMC run: one :class:`Generation` per population, an :class:`ABCResult`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "ABCResult",
    "Generation",
    "PARAM_NAMES",
    "Status",
    "weighted_mean_std",
    "weighted_quantiles",
]

PARAM_NAMES: tuple[str, str, str, str] = ("a_x", "a_y", "a_z", "eps")

Status = Literal["completed", "budget_exhausted", "tolerance_floor"]


def weighted_mean_std(theta: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation per column of ``theta`` (P, d)."""
    mean = weights @ theta
    var = weights @ (theta - mean) ** 2
    return mean, np.sqrt(var)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Weighted quantiles by linear interpolation of the mid-point empirical CDF.

    Args:
        values: samples, shape (P,) float.
        weights: non-negative weights, shape (P,).
        q: probabilities in [0, 1].

    Returns:
        Quantiles, shape (len(q),) float64.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    keep = weights > 0  # zero-weight samples carry no mass
    order = np.argsort(values[keep])
    v, w = values[keep][order], weights[keep][order]
    cdf = (np.cumsum(w) - 0.5 * w) / np.sum(w)
    return np.interp(np.asarray(q, dtype=np.float64), cdf, v)


@dataclass
class Generation:
    """One completed ABC-PMC population.

    Attributes:
        index: generation number t (0 = sampled from the prior).
        tolerance: τ_t on ρ (percent).
        theta: particles, shape (P, d) float64.
        weights: normalised weights, shape (P,) float64.
        rho: discrepancy of each particle (percent), shape (P,) float64.
        evaluations: candidates simulated in this generation (pilot included in generation 0).
        evaluations_total: candidates simulated since the start of the run.
        passed: candidates with ρ ≤ τ_t (≥ P; those beyond the P-th were discarded).
        components_simulated: η components the simulator computed in this generation (k per
            evaluation, fewer with pruning; for the CNN, forward passes).
        proposals_outside_support: perturbed proposals redrawn without simulation.
        rejected: candidates the simulator refused (an all-NaN row: for the CNN, a structure
            the dataset's acceptance rule rejects); each is one evaluation with ρ = ∞.
        wall_time_s: wall time of this generation (s).
        wall_time_total_s: wall time since the start of the run (s), resumed runs included.
        nu: standard deviations of the perturbation kernel per coordinate (of log θ_i for the
            columns perturbed in log), shape (d,), or None for generation 0.
        rng_state: state of the run's bit generator after this generation (JSON-able dict).
    """

    index: int
    tolerance: float
    theta: np.ndarray
    weights: np.ndarray
    rho: np.ndarray
    evaluations: int
    evaluations_total: int
    passed: int
    components_simulated: int
    proposals_outside_support: int
    wall_time_s: float
    wall_time_total_s: float
    nu: np.ndarray | None
    rng_state: dict[str, Any] = field(repr=False)
    rejected: int = 0

    @property
    def acceptance_rate(self) -> float:
        """Passing fraction of the candidates simulated in this generation."""
        return self.passed / self.evaluations if self.evaluations else 0.0

    @property
    def ess(self) -> float:
        """Effective sample size 1 / Σ w²."""
        return float(1.0 / np.sum(self.weights**2))


@dataclass
class ABCResult:
    """Outcome of :func:`abc_pmc`.

    Attributes:
        generations: the completed generations in order.
        status: ``"completed"``, ``"budget_exhausted"`` or ``"tolerance_floor"``
            (:mod:`spinodoid.abc.sampler`, "Ending").
        message: a human-readable sentence on how the run ended.
        evaluations: candidates simulated in total (pilot included).
        wall_time_s: total wall time (s), resumed parts included.
        best_theta: the lowest-ρ candidates seen (up to P), shape (≤P, d), by increasing ρ.
        best_rho: their ρ (percent), shape (≤P,).
        param_names: names of the θ components.
        target: the target η, shape (k,).
    """

    generations: list[Generation]
    status: Status
    message: str
    evaluations: int
    wall_time_s: float
    best_theta: np.ndarray
    best_rho: np.ndarray
    param_names: tuple[str, ...]
    target: np.ndarray

    @property
    def theta(self) -> np.ndarray:
        """Posterior particles (P, d): the last generation, else the best candidates."""
        return self.generations[-1].theta if self.generations else self.best_theta

    @property
    def weights(self) -> np.ndarray:
        """Posterior weights (P,), normalised."""
        if self.generations:
            return self.generations[-1].weights
        return np.full(len(self.best_theta), 1.0 / max(len(self.best_theta), 1))

    @property
    def rho(self) -> np.ndarray:
        """ρ (percent) of the posterior particles, shape (P,)."""
        return self.generations[-1].rho if self.generations else self.best_rho

    @property
    def final_tolerance(self) -> float:
        """Tolerance of the last completed generation (percent; inf if none completed)."""
        return self.generations[-1].tolerance if self.generations else math.inf

    def posterior_mean(self) -> np.ndarray:
        """θ̂: the weighted posterior mean, shape (d,) float64 (the design)."""
        return weighted_mean_std(self.theta, self.weights)[0]

    def posterior_std(self) -> np.ndarray:
        """Weighted posterior standard deviation, shape (d,) float64."""
        return weighted_mean_std(self.theta, self.weights)[1]

    def quantiles(self, q: Sequence[float]) -> np.ndarray:
        """Weighted marginal quantiles, shape (len(q), d) float64."""
        cols = [weighted_quantiles(self.theta[:, j], self.weights, q) for j in range(self.dim)]
        return np.stack(cols, axis=1)

    @property
    def dim(self) -> int:
        """Number of parameters d."""
        return len(self.param_names)
