"""The discrepancy ρ of eq. 10 and its lower bound from partly simulated η (docs/method.md §5)."""

from __future__ import annotations

import numpy as np

__all__ = ["discrepancy", "discrepancy_lower_bound"]


def discrepancy(eta_sim: np.ndarray, target: np.ndarray) -> np.ndarray:
    """ρ of eq. 10 in percent: ``100 · mean_i |η'_i − η_i| / η_i``.

    Args:
        eta_sim: simulated η', shape (B, k) float.
        target: target η, shape (k,), every component > 0.

    Returns:
        ρ, shape (B,) float64 (percent).
    """
    eta_sim = np.asarray(eta_sim, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    return 100.0 * np.mean(np.abs(eta_sim - target) / target, axis=-1)


def discrepancy_lower_bound(eta_partial: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Lower bound on ρ (eq. 10, percent) from the components of η' simulated so far.

    Args:
        eta_partial: simulated η', shape (B, k) float, NaN where a component is not simulated.
        target: target η, shape (k,), every component > 0.

    Returns:
        ``100 / k · Σ_(i not NaN) |η'_i − η_i| / η_i``, shape (B,) float64; equal to
        :func:`discrepancy` for rows without NaN.
    """
    eta_partial = np.asarray(eta_partial, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    terms = np.abs(eta_partial - target) / target
    return 100.0 * np.nansum(terms, axis=-1) / target.shape[-1]
