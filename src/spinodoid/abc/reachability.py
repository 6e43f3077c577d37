"""Refusing targets the prior/simulator pair cannot produce, before or at the start of a run.

A target component outside (0, 1) is refused with :class:`UnreachableTargetError`. A pilot of
prior draws (the first candidates of generation 0, so no evaluation is wasted) or the solver η
of a reference sample from the prior then bounds what is reachable: a target is refused when
one of its features ``logit η_i`` or ``log(η_i / η_j)`` lies outside the sample's range widened
by a margin of that range on each side. This is a necessary condition only: a target that
passes it but that the simulator cannot match to the final tolerance stops at the evaluation
budget with status ``"budget_exhausted"`` (:mod:`spinodoid.abc.sampler`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["UnreachableTargetError", "check_reachable", "validate_target"]


class UnreachableTargetError(ValueError):
    """The target cannot be produced by the prior/simulator pair (refused before the run)."""


def _target_features(eta: np.ndarray) -> np.ndarray:
    """Features (…, k + k(k−1)/2): logit η_i, then log(η_i/η_j) for i < j."""
    eta = np.asarray(eta, dtype=np.float64)
    logit = np.log(eta) - np.log1p(-eta)
    k = eta.shape[-1]
    ratios = [np.log(eta[..., i]) - np.log(eta[..., j]) for i in range(k) for j in range(i + 1, k)]
    return np.concatenate([logit, np.stack(ratios, axis=-1)], axis=-1) if ratios else logit


def check_reachable(target: np.ndarray, pilot_eta: np.ndarray, margin: float = 0.1) -> None:
    """Refuse a target outside what a pilot sample from the prior produces.

    Each feature of the target (``logit η_i`` and ``log(η_i/η_j)``) must lie within the range of
    the same feature over the pilot, widened on each side by ``margin`` times that range. This
    is a necessary condition, not a sufficient one.

    Args:
        target: target η, shape (k,), each in (0, 1).
        pilot_eta: simulated η' of prior draws, shape (M, k), each in (0, 1); rows with a NaN
            (candidates the acceptance rule rejected, ρ = ∞) are left out.
        margin: relative widening of the pilot ranges (dimensionless, ≥ 0).

    Raises:
        UnreachableTargetError: naming the first feature out of range.
    """
    pilot = np.asarray(pilot_eta, dtype=np.float64)
    pilot = np.clip(pilot[~np.isnan(pilot).any(axis=1)], 1e-9, 1.0 - 1e-9)
    if len(pilot) == 0:
        raise UnreachableTargetError(
            f"target eta={np.round(target, 4).tolist()}: no prior draw of the pilot passed the "
            "acceptance rule, so nothing is known of what the prior produces"
        )
    feats = _target_features(pilot)
    lo, hi = feats.min(axis=0), feats.max(axis=0)
    pad = margin * (hi - lo)
    t = _target_features(np.asarray(target, dtype=np.float64))
    k = len(target)
    names = [f"logit eta_{i}" for i in range(k)]
    names += [f"log(eta_{i}/eta_{j})" for i in range(k) for j in range(i + 1, k)]
    for name, value, low, high in zip(names, t, lo - pad, hi + pad, strict=True):
        if not low <= value <= high:
            raise UnreachableTargetError(
                f"target eta={np.round(target, 4).tolist()} is outside what the prior produces: "
                f"{name} = {value:.3f} not in [{low:.3f}, {high:.3f}] over "
                f"{len(pilot)} prior draws"
            )


def validate_target(target: np.ndarray) -> np.ndarray:
    """Return the target as float64 (k,), refusing components outside (0, 1)."""
    target = np.asarray(target, dtype=np.float64).reshape(-1)
    if not np.all((target > 0.0) & (target < 1.0)):
        raise UnreachableTargetError(
            f"target eta={target.tolist()}: every component must lie strictly in (0, 1)"
        )
    return target
