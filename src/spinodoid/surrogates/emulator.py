"""An emulator of η(θ): a Gaussian process on the dataset's (θ, η_solver) pairs.

The CNN of the paper predicts η from a structure's voxels and needs thousands of structures to
become accurate. The design problem, however, lives in the four parameters θ = (a_x, a_y, a_z, ε)
and η(θ) is smooth, so a regression of η on θ learns from far fewer solver results. The emulator
predicts, for a batch of θ, the **mean** η along x, y and z over structures of that θ and the
**spread** between structures of the same θ (the effect of the seed ω).

Model
-----
The spinodoid model is statistically symmetric under a permutation of the axes (the spectral
density of eq. 3 permutes with (a_x, a_y, a_z)) and under swapping the two lateral axes, so η
along axis ``i`` is one function ``f`` of the length scale along the transport direction, the two
lateral ones and ε: ``η_i(θ) = f(a_i, {a_j, a_k}, ε)``. The emulator fits ``f`` once, pooling the
three directions of every structure (3n training rows from n structures), on the features

    x = (log a_i, log a_j + log a_k, (log a_j − log a_k)², ε)

(symmetric in the lateral pair by construction) and the response ``y = logit η_i``. The Gaussian
process has the kernel ``C · RBF(ℓ_1 … ℓ_4)`` on standardised features (one length scale per
feature), a constant mean (``normalize_y``) and observation noise of variance ``σ²_n(x)``, the
variance between structures of the same θ in logit space: with one structure per θ in the
dataset, the seed's effect is what the smooth part cannot explain. Hyperparameters are fitted by
scikit-learn (:class:`sklearn.gaussian_process.GaussianProcessRegressor`, maximum marginal
likelihood, L-BFGS-B with restarts from a fixed random state). The choice of this model against
per-direction GPs, η or logit η, and MLP ensembles was measured on held-out structures
(``benchmarks/emulator.py``): at N = 64 with 72 training structures its test MAPE is 3.0 %
against a seed floor of 2.6 %, the per-direction GPs' 4.3–4.7 %.

Seed spread
-----------
The spread is not constant: structures near the percolation threshold (small ε) vary far more
between seeds (5-fold cross-validation on 80 structures at N = 64: rms residual of logit η
0.079 for ε < 0.5, 0.032 for 0.5 ≤ ε < 0.7). The fit therefore has two stages (a "most likely
heteroscedastic GP", Kersting et al., ICML 2007): a GP with a white-noise kernel, whose
leave-one-out residuals, standardised by their predictive std, give ``log u²``; a least-squares
fit of ``log u² + 1.2704`` (the bias of ``log χ²_1``) on :func:`noise_features`
``(1, ε, ε², log a_i, mean lateral log a)`` gives ``log σ²_n(x)`` as the white level times that
multiplier; then the GP is refitted with these per-row noise variances. At prediction the log
variance is clipped to its range over the training rows. ``heteroscedastic=False`` keeps the
white noise.

One structure's three η share its seed, so their seed effects correlate: the emulator keeps the
correlation of the final fit's standardised leave-one-out residuals between the axes of a
structure, pooled over the three pairs (:attr:`Emulator.axis_correlation`; on the N = 64 demo
data about −0.2), and the emulator simulator draws the three axes' normals correlated by it.

Prediction
----------
:meth:`Emulator.predict_logit` evaluates the posterior mean of the GP from the fitted
hyperparameters, in row blocks: one matrix product gives the kernel's exponent ``−|z − z_i|²/2``
against the 3n training rows, then ``exp`` and a product with the kernel weights. The blocks are
torch float64 CPU tensors (zero-copy views of the numpy arrays) because torch's vectorised
``exp`` is several times faster than numpy's on CPUs without AVX-512 (the ``exp`` is most of
the cost); the emulator then costs a few microseconds per θ. It returns the latent mean ``μ``
and the seed spread ``σ_n`` of logit η. :meth:`Emulator.predict` turns them into the mean and
standard deviation of η = sigmoid(μ + σ_n Z), Z ~ N(0, 1), by Gauss–Hermite quadrature. The
GP's own uncertainty about ``μ`` (epistemic) is not part of the spread: it is the same for
every structure at θ, not a seed effect. A row's result does not depend on the other rows of
the call except through the BLAS kernel of the matrix product (last bits, ~1e-12 in logit η).

File format
-----------
:func:`save_emulator` writes one ``.npz`` (no pickles) with the arrays of :class:`Emulator`,
those of its P(accepted | θ) model when it has one (``acceptance_shift``, ``acceptance_scale``,
``acceptance_coef``, ``acceptance_intercept``; :mod:`spinodoid.surrogates.acceptance`) and a
JSON string ``meta`` holding ``format`` (:data:`FORMAT_VERSION`), the fitted kernel, the
training-set size, the acceptance model's description and free-form fields (e.g. the
dataset's path and the test metrics); :func:`load_emulator` reads format 1 (no acceptance
model) and 2 and refuses any other.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.special import logit

from spinodoid.surrogates.acceptance import AcceptanceModel

__all__ = [
    "FORMAT_VERSION",
    "Emulator",
    "direction_features",
    "noise_features",
    "emulator_metrics",
    "evaluation_table",
    "fit_emulator",
    "load_emulator",
    "mape_per_direction",
    "save_emulator",
    "training_subset",
    "MAX_TRAINING_STRUCTURES",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
_READABLE_FORMATS = (1, 2)
_ETA_CLIP = 1e-6  # η is clipped to [clip, 1 − clip] before the logit
_BLOCK_ROWS = 256  # θ rows per kernel block (3 · 256 × 3n float64: 3.5 MB at n = 192)
_LOG_CHI2_BIAS = 1.2703628454614782  # −E[log χ²_1]: log u² of u ~ N(0, σ²) averages log σ² − this
_HERMITE_NODES = 12  # Gauss–Hermite nodes for the moments of η = sigmoid(μ + σ Z)
_LATERAL = ((1, 2), (0, 2), (0, 1))  # lateral axes of transport along x, y, z


def direction_features(theta: np.ndarray) -> np.ndarray:
    """Features of η along each axis (module docstring, "Model").

    Args:
        theta: (a_x, a_y, a_z, ε), shape (B, 4) float, a > 0.

    Returns:
        Shape (3, B, 4) float64: for axis i, ``(log a_i, log a_j + log a_k,
        (log a_j − log a_k)², ε)`` with (j, k) the lateral axes.
    """
    theta = np.asarray(theta, dtype=np.float64).reshape(-1, 4)
    log_a = np.log(theta[:, :3])
    out = np.empty((3, len(theta), 4))
    for i, (j, k) in enumerate(_LATERAL):
        out[i, :, 0] = log_a[:, i]
        out[i, :, 1] = log_a[:, j] + log_a[:, k]
        out[i, :, 2] = (log_a[:, j] - log_a[:, k]) ** 2
        out[i, :, 3] = theta[:, 3]
    return out


def noise_features(features: np.ndarray) -> np.ndarray:
    """Regressors of the log seed variance: ``(1, ε, ε², log a_i, (log a_j + log a_k)/2)``.

    Args:
        features: rows of :func:`direction_features`, shape (…, 4).

    Returns:
        Shape (…, 5) float64.
    """
    eps = features[..., 3]
    ones = np.ones_like(eps)
    return np.stack([ones, eps, eps * eps, features[..., 0], 0.5 * features[..., 1]], axis=-1)


@dataclass(frozen=True)
class Emulator:
    """A fitted GP emulator of η(θ) (module docstring).

    Attributes:
        shift: feature offsets, shape (4,) float64 (training mean of :func:`direction_features`).
        scale: feature scales, shape (4,): training std times the fitted length scale, so that
            ``z = (x − shift) / scale`` enters the kernel as ``exp(−|z − z'|² / 2)``.
        train_z: scaled training features, shape (m, 4) (m = 3n pooled rows).
        dual: kernel weights, shape (m,): ``C · y_std · ((K + σ²_n I)⁻¹ (y − ȳ) / y_std)``.
        y_mean: constant mean of logit η.
        noise_coef: coefficients of the log seed variance of logit η on
            :func:`noise_features`, shape (5,): ``log σ²_n(x) = noise_features(x) · noise_coef``.
        noise_clip: (low, high) bounds of that log variance (its range over the training rows).
        meta: JSON-able description (kernel, training size, metrics, …).
        acceptance: P(accepted | θ) of the structures (None: every candidate counts as
            accepted); the emulator simulator rejects candidates by it.
        axis_correlation: correlation between one structure's seed effects on logit η along
            two axes (module docstring, "Seed spread"); 0 for a format-1 file.
    """

    shift: np.ndarray
    scale: np.ndarray
    train_z: np.ndarray
    dual: np.ndarray
    y_mean: float
    noise_coef: np.ndarray
    noise_clip: tuple[float, float]
    meta: dict[str, Any] = field(default_factory=dict)
    acceptance: AcceptanceModel | None = None
    axis_correlation: float = 0.0

    def axis_mixing(self) -> np.ndarray:
        """Lower Cholesky factor L (3, 3) of the axes' correlation matrix (1 on the diagonal,
        :attr:`axis_correlation` elsewhere): ``Z = L N`` with N ~ N(0, I) gives one structure's
        correlated standard normals of x, y, z, Z_i depending on N_0 … N_i only."""
        rho = self.axis_correlation
        return np.linalg.cholesky((1.0 - rho) * np.eye(3) + rho * np.ones((3, 3)))

    def noise_std(self, features: np.ndarray) -> np.ndarray:
        """Seed spread σ_n of logit η at :func:`direction_features` rows (…, 4) → (…)."""
        log_var = noise_features(features) @ self.noise_coef
        return np.exp(0.5 * np.clip(log_var, *self.noise_clip))

    @functools.cached_property
    def _torch_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``([Z, −1/2, −|Z|²/2]ᵀ (6, m), dual (m,))`` as float64 tensors: a row ``[z, |z|², 1]``
        times the first is ``−|z − Z|² / 2``, so one matrix product gives the kernel's
        exponent."""
        half_sq = -0.5 * np.einsum("ij,ij->i", self.train_z, self.train_z)
        ones = np.full(len(self.train_z), -0.5)
        train = np.ascontiguousarray(np.column_stack([self.train_z, ones, half_sq]).T)
        return torch.from_numpy(train), torch.from_numpy(np.ascontiguousarray(self.dual))

    def predict_logit(
        self, theta: np.ndarray, axes: Sequence[int] = (0, 1, 2)
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and seed spread of logit η.

        Args:
            theta: shape (B, 4) float.
            axes: which directions to predict (0, 1, 2 = x, y, z).

        Returns:
            ``(mu, sigma)``, each (B, len(axes)) float64: the GP posterior mean of logit η along
            the axes and the seed spread σ_n of logit η there.
        """
        feats = direction_features(theta)[list(axes)]  # (A, B, 4)
        z = (feats - self.shift) / self.scale
        k, n = z.shape[:2]
        rows = np.concatenate([z, np.sum(z * z, axis=-1, keepdims=True), np.ones((k, n, 1))], -1)
        mu = np.empty((k, n))
        train, dual = self._torch_weights
        with torch.inference_mode():
            for start in range(0, n, _BLOCK_ROWS):
                block = torch.from_numpy(rows[:, start : start + _BLOCK_ROWS].reshape(-1, 6))
                exponent = torch.mm(block, train).exp_()
                mu[:, start : start + _BLOCK_ROWS] = torch.mv(exponent, dual).numpy().reshape(k, -1)
        return mu.T + self.y_mean, self.noise_std(feats).T

    def predict(
        self, theta: np.ndarray, axes: Sequence[int] = (0, 1, 2)
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean η and its spread between structures of the same θ.

        Args:
            theta: shape (B, 4) float.
            axes: which directions to predict (0, 1, 2 = x, y, z).

        Returns:
            ``(mean, spread)``, each (B, len(axes)) float64: E[η] and std[η] over the seed, for
            η = sigmoid(μ + σ_n Z) (Gauss–Hermite quadrature).
        """
        mu, sigma = self.predict_logit(theta, axes)
        nodes, weights = np.polynomial.hermite_e.hermegauss(_HERMITE_NODES)
        weights = weights / weights.sum()
        with torch.inference_mode():
            values = torch.sigmoid(torch.from_numpy(mu[..., None] + sigma[..., None] * nodes))
            values = values.numpy()
        mean = values @ weights
        var = np.maximum((values * values) @ weights - mean * mean, 0.0)
        return mean, np.sqrt(var)


def _clipped_logit(eta: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(eta, dtype=np.float64), _ETA_CLIP, 1.0 - _ETA_CLIP))


def _gp_fit(x: np.ndarray, y: np.ndarray, kernel, alpha, restarts: int, seed: int):
    """A scikit-learn GP fitted by maximum marginal likelihood (``normalize_y``)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor

    gpr = GaussianProcessRegressor(
        kernel, alpha=alpha, normalize_y=True, n_restarts_optimizer=restarts, random_state=seed
    )
    with warnings.catch_warnings():
        # a length scale at its upper bound means η does not depend on that feature: expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gpr.fit(x, y)


def _loo_standardised(gpr) -> np.ndarray:
    """Leave-one-out residuals of a fitted GP divided by their predictive std, (m,): about
    N(0, 1) where the noise model is right."""
    from scipy.linalg import solve_triangular

    inverse_l = solve_triangular(gpr.L_, np.eye(len(gpr.L_)), lower=True)
    k_inv_diag = np.sum(inverse_l * inverse_l, axis=0)
    return gpr.alpha_.reshape(-1) / np.sqrt(k_inv_diag)


def _axis_correlation(standardised: np.ndarray) -> float:
    """Correlation of one structure's standardised residuals between its axes, pooled over the
    three pairs (axis symmetry), from the pooled rows ``(3n,)`` (axis-major); clipped to
    [−0.45, 0.9] so that the 3 × 3 correlation matrix stays positive definite."""
    per_axis = standardised.reshape(3, -1)
    pairs = np.corrcoef(per_axis)[np.triu_indices(3, k=1)]
    return float(np.clip(np.mean(pairs), -0.45, 0.9))


def _loo_log_noise(gpr, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Regression of the log squared standardised leave-one-out residuals on
    :func:`noise_features`; returns (coefficients (5,), fitted log multipliers (m,))."""
    standardised = _loo_standardised(gpr)  # ~ N(0, 1) if homoscedastic
    design = noise_features(x)
    log_sq = np.log(np.maximum(standardised**2, 1e-10)) + _LOG_CHI2_BIAS
    coef = np.linalg.lstsq(design, log_sq, rcond=None)[0]
    return coef, design @ coef


#: Structures a fit uses at most: the GP's cost grows as (3n)³ in time and (3n)² in memory; 1024
#: structures (3072 rows, 75 MB per kernel matrix) fit in minutes on a CPU, and at N = 64 the
#: held-out error is already near the seed floor with 72 (module docstring, "Model").
MAX_TRAINING_STRUCTURES = 1024


def training_subset(
    theta: np.ndarray, eta: np.ndarray, limit: int = MAX_TRAINING_STRUCTURES
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` structures (the dataset's order, itself random over the prior), so a
    paper-scale dataset (10 240 training structures) gives a fit of bounded cost."""
    return theta[:limit], eta[:limit]


def fit_emulator(
    theta: np.ndarray,
    eta: np.ndarray,
    *,
    heteroscedastic: bool = True,
    restarts: int = 2,
    seed: int = 0,
    meta: Mapping[str, Any] | None = None,
    acceptance: AcceptanceModel | None = None,
) -> Emulator:
    """Fit the emulator on solver results (module docstring, "Model").

    Args:
        theta: (a_x, a_y, a_z, ε) of the structures, shape (n, 4) float.
        eta: their solver η along x, y, z, shape (n, 3), each in (0, 1).
        heteroscedastic: let the seed spread depend on θ (module docstring, "Seed spread");
            False keeps the homoscedastic white noise.
        restarts: extra L-BFGS-B starts of the marginal-likelihood fit (from ``seed``).
        seed: random state of the restarts (the fit is deterministic given it).
        meta: extra JSON-able fields stored with the emulator.
        acceptance: P(accepted | θ) to carry
            (:func:`spinodoid.surrogates.acceptance.fit_acceptance`).

    Returns:
        The fitted :class:`Emulator`.
    """
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    theta = np.asarray(theta, dtype=np.float64).reshape(-1, 4)
    eta = np.asarray(eta, dtype=np.float64).reshape(-1, 3)
    if len(theta) != len(eta) or len(theta) < 4:
        raise ValueError(f"need matching theta/eta rows (>= 4), got {len(theta)}, {len(eta)}")
    x = direction_features(theta).reshape(-1, 4)
    y = _clipped_logit(eta.T).reshape(-1)
    shift, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    xs = (x - shift) / std
    smooth = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(4), (1e-2, 1e3))
    gpr = _gp_fit(xs, y, smooth + WhiteKernel(1e-2, (1e-8, 1.0)), 1e-10, restarts, seed)
    white = float(gpr.kernel_.k2.noise_level)  # seed variance, normalised units
    log_var = np.full(len(x), math.log(white))
    coef = np.array([math.log(white), 0.0, 0.0, 0.0, 0.0])
    if heteroscedastic:
        multiplier_coef, log_multiplier = _loo_log_noise(gpr, x)
        log_var = log_var + log_multiplier
        coef = coef + multiplier_coef
        gpr = _gp_fit(xs, y, gpr.kernel_.k1, np.exp(log_var), 0, seed)
        smooth_fitted = gpr.kernel_
    else:
        smooth_fitted = gpr.kernel_.k1
    correlation = _axis_correlation(_loo_standardised(gpr))
    constant = float(smooth_fitted.k1.constant_value)
    length = np.asarray(smooth_fitted.k2.length_scale, dtype=np.float64)
    y_std = float(np.asarray(gpr._y_train_std))
    coef[0] += 2.0 * math.log(y_std)  # log variance of logit η itself
    log_var_logit = log_var + 2.0 * math.log(y_std)
    info = {
        "format": FORMAT_VERSION,
        "model": "gp_rbf_pooled_logit",
        "heteroscedastic": heteroscedastic,
        "kernel": str(gpr.kernel_),
        "constant": constant,
        "length_scale": length.tolist(),
        "noise_level": white,
        "feature_std": std.tolist(),
        "y_std": y_std,
        "log_marginal_likelihood": float(gpr.log_marginal_likelihood_value_),
        "structures": len(theta),
        "axis_correlation": correlation,
        **dict(meta or {}),
    }
    emulator = Emulator(
        shift=shift,
        scale=std * length,
        train_z=(x - shift) / (std * length),
        dual=np.asarray(gpr.alpha_, dtype=np.float64).reshape(-1) * constant * y_std,
        y_mean=float(np.asarray(gpr._y_train_mean)),
        noise_coef=coef,
        noise_clip=(float(log_var_logit.min()), float(log_var_logit.max())),
        meta=info,
        acceptance=acceptance,
        axis_correlation=correlation,
    )
    spread = np.exp(0.5 * log_var_logit)
    logger.info(
        "emulator fitted on %d structures: %s; seed spread of logit eta %.4f to %.4f",
        len(theta),
        gpr.kernel_,
        spread.min(),
        spread.max(),
    )
    return emulator


def save_emulator(emulator: Emulator, path: str | os.PathLike[str]) -> None:
    """Write the emulator to one ``.npz`` file (module docstring, "File format"), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    meta = {**emulator.meta, "format": FORMAT_VERSION}
    model = emulator.acceptance
    acceptance = {}
    if model is not None:
        meta["acceptance"] = model.meta
        acceptance = {
            "acceptance_shift": model.shift,
            "acceptance_scale": model.scale,
            "acceptance_coef": model.coef,
            "acceptance_intercept": np.float64(model.intercept),
        }
    np.savez(
        tmp,
        **acceptance,
        shift=emulator.shift,
        scale=emulator.scale,
        train_z=emulator.train_z,
        dual=emulator.dual,
        y_mean=np.float64(emulator.y_mean),
        noise_coef=emulator.noise_coef,
        noise_clip=np.asarray(emulator.noise_clip, dtype=np.float64),
        axis_correlation=np.float64(emulator.axis_correlation),
        meta=np.array(json.dumps(meta)),
    )
    os.replace(tmp, path)


def load_emulator(path: str | os.PathLike[str]) -> Emulator:
    """Read an emulator written by :func:`save_emulator`.

    Raises:
        ValueError: the file has another format version.
    """
    with np.load(Path(path), allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("format") not in _READABLE_FORMATS:
            raise ValueError(
                f"{path}: emulator format {meta.get('format')!r}, expected one of "
                f"{_READABLE_FORMATS}"
            )
        acceptance = None
        if "acceptance_coef" in data:
            acceptance = AcceptanceModel(
                shift=data["acceptance_shift"],
                scale=data["acceptance_scale"],
                coef=data["acceptance_coef"],
                intercept=float(data["acceptance_intercept"]),
                meta=meta.get("acceptance", {}),
            )
        return Emulator(
            shift=data["shift"],
            scale=data["scale"],
            train_z=data["train_z"],
            dual=data["dual"],
            y_mean=float(data["y_mean"]),
            noise_coef=data["noise_coef"],
            noise_clip=tuple(float(v) for v in data["noise_clip"]),
            meta=meta,
            acceptance=acceptance,
            axis_correlation=float(data["axis_correlation"]) if "axis_correlation" in data else 0.0,
        )


def mape_per_direction(predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Mean absolute percentage error per direction, ``100 · mean_n |η̂ − η| / η``.

    Args:
        predicted: shape (n, 3).
        actual: shape (n, 3), > 0.

    Returns:
        Shape (3,) float64, percent.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    return 100.0 * np.mean(np.abs(predicted - actual) / actual, axis=0)


def emulator_metrics(emulator: Emulator, theta: np.ndarray, eta: np.ndarray) -> dict[str, Any]:
    """Accuracy of the emulator on held-out structures (one structure per θ).

    Args:
        emulator: the fitted emulator.
        theta: shape (n, 4); eta: their solver η, shape (n, 3).

    Returns:
        JSON-able dict: ``mape`` (per direction x, y, z, percent, of the predicted mean against
        each structure's η), ``mape_mean`` (over directions), ``seed_floor`` (per direction: the
        MAPE a perfect mean would have under the predicted spread, ``100 · √(2/π) · mean(spread /
        η̂)``), ``coverage_95`` (fraction of |η − η̂| ≤ 1.96 · spread, all directions) and
        ``structures``.
    """
    mean, spread = emulator.predict(theta)
    eta = np.asarray(eta, dtype=np.float64)
    mape = mape_per_direction(mean, eta)
    floor = 100.0 * math.sqrt(2.0 / math.pi) * np.mean(spread / mean, axis=0)
    covered = np.abs(eta - mean) <= 1.96 * spread
    return {
        "mape": mape.tolist(),
        "mape_mean": float(mape.mean()),
        "seed_floor": floor.tolist(),
        "coverage_95": float(covered.mean()),
        "structures": len(eta),
    }


def evaluation_table(
    emulator: Emulator, splits: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """The CNN's Table 1 for the emulator's mean η: one row per split and direction.

    Args:
        emulator: the fitted emulator.
        splits: split name → (θ (n, 4), solver η (n, 3)).

    Returns:
        Columns of :func:`spinodoid.surrogates.evaluation.evaluation_table` (``split``,
        ``direction`` x, y,
        z and all, ``samples``, ``mse_logit`` of eq. 14, ``mape_percent`` of eq. 15), plus
        ``seed_floor_percent``: the MAPE a perfect mean would still have from the predicted
        spread between structures (:func:`emulator_metrics`).
    """
    from spinodoid.surrogates.evaluation import mape_percent, mse_logit

    rows = []
    for split, (theta, eta) in splits.items():
        if not len(theta):
            continue
        mean, spread = emulator.predict(theta)
        floor = 100.0 * math.sqrt(2.0 / math.pi) * spread / mean
        for k, direction in enumerate(("x", "y", "z", "all")):
            cols = slice(None) if direction == "all" else slice(k, k + 1)
            pred, true = torch.from_numpy(mean[:, cols]), torch.from_numpy(eta[:, cols])
            rows.append(
                {
                    "split": split,
                    "direction": direction,
                    "samples": pred.numel(),
                    "mse_logit": mse_logit(pred, true),
                    "mape_percent": mape_percent(pred, true),
                    "seed_floor_percent": float(floor[:, cols].mean()),
                }
            )
    return pd.DataFrame(rows)
