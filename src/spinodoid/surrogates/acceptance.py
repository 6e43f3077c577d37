"""P(accepted | θ): the chance that a structure drawn at θ passes the dataset's acceptance rule
(pore and solid both percolate in x, y and z,
:func:`spinodoid.structures.connectivity.is_bicontinuous`).

The paper's simulator generates a structure per ABC candidate and gives ρ = ∞ to one that fails
the rule (:mod:`spinodoid.abc.simulators.cnn`); an emulator of η(θ) sees no structure, so
without this model it would target another posterior. The emulator simulator rejects a
candidate with probability 1 − P(accepted | θ) (:mod:`spinodoid.abc.simulators.emulator`).

Model: logistic regression (scikit-learn, L2 penalty ``C``) on the quadratic features of
x = (log a_x, log a_y, log a_z, ε) — x and every product x_i x_j, i ≤ j, 14 features, each
standardised over the training candidates. Rejections come from large length scales (few
features across the domain) and extreme porosity, both smooth in x. The training data are
every candidate the sampler tried: the shards' accepted θ and their rejected θ
(:func:`spinodoid.formats.shards.read_candidates`), plus the round solves' candidates. With no
rejection among them the model is the constant (n + ½)/(n + 1) (a Jeffreys-like estimate that
never claims certainty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

__all__ = ["AcceptanceModel", "acceptance_features", "fit_acceptance"]

_PAIRS = [(i, j) for i in range(4) for j in range(i, 4)]


def acceptance_features(theta: np.ndarray) -> np.ndarray:
    """Quadratic features of (log a_x, log a_y, log a_z, ε): (B, 4) θ → (B, 14) float64."""
    theta = np.asarray(theta, dtype=np.float64).reshape(-1, 4)
    x = np.column_stack([np.log(theta[:, :3]), theta[:, 3]])
    return np.column_stack([x, *(x[:, i] * x[:, j] for i, j in _PAIRS)])


@dataclass(frozen=True)
class AcceptanceModel:
    """A fitted P(accepted | θ) (module docstring).

    Attributes:
        shift, scale: standardisation of :func:`acceptance_features`, each (14,).
        coef: logistic coefficients on the standardised features, (14,).
        intercept: logistic intercept.
        meta: JSON-able description (candidates, rejections, C).
    """

    shift: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)

    def probability(self, theta: np.ndarray) -> np.ndarray:
        """P(accepted | θ) for θ (B, 4) → (B,) float64 in (0, 1)."""
        z = (acceptance_features(theta) - self.shift) / self.scale
        return expit(z @ self.coef + self.intercept)


def fit_acceptance(theta: np.ndarray, accepted: np.ndarray, C: float = 1.0) -> AcceptanceModel:
    """Fit P(accepted | θ) on candidates θ (n, 4) and their outcomes ``accepted`` (n,) bool."""
    from sklearn.linear_model import LogisticRegression

    theta = np.asarray(theta, dtype=np.float64).reshape(-1, 4)
    accepted = np.asarray(accepted, dtype=bool).reshape(-1)
    if len(theta) != len(accepted) or len(theta) == 0:
        raise ValueError(
            f"need matching, non-empty theta/accepted, got {len(theta)}, {len(accepted)}"
        )
    x = acceptance_features(theta)
    shift, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    n, rejected = len(accepted), int((~accepted).sum())
    meta = {"candidates": n, "rejected": rejected, "C": C, "model": "logistic_quadratic"}
    if rejected == 0 or rejected == n:
        rate = (n - rejected + 0.5) / (n + 1.0)
        return AcceptanceModel(
            shift, scale, np.zeros(x.shape[1]), math.log(rate / (1 - rate)), meta
        )
    fit = LogisticRegression(C=C, max_iter=5000).fit((x - shift) / scale, accepted)
    return AcceptanceModel(
        shift, scale, fit.coef_[0].astype(np.float64), float(fit.intercept_[0]), meta
    )
