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
process has the kernel ``C · RBF(ℓ_1 … ℓ_4) + σ²_n · δ`` on standardised features (one length
scale per feature) and a constant mean (``normalize_y``); its hyperparameters are fitted by
scikit-learn (:class:`sklearn.gaussian_process.GaussianProcessRegressor`, maximum marginal
likelihood, L-BFGS-B with restarts from a fixed random state). The white noise ``σ²_n`` is the
variance between structures of the same θ in logit space: one structure per θ in the dataset,
the seed's effect is what the smooth part cannot explain. (The choice of this model against
per-direction GPs, η or logit η, and MLP ensembles was measured on held-out structures:
``benchmarks/emulator.py``.)

Prediction
----------
:meth:`Emulator.predict_logit` evaluates the posterior mean of the GP from the fitted
hyperparameters with numpy, in row blocks (one ``(B, 3n)`` kernel block per direction), so the
emulator costs a few microseconds per θ; it returns the latent mean ``μ`` and the seed spread
``σ_n`` of logit η. :meth:`Emulator.predict` turns them into the mean and standard deviation of
η = sigmoid(μ + σ_n Z), Z ~ N(0, 1), by Gauss–Hermite quadrature (exact for the model to far below
its error). The GP's own uncertainty about ``μ`` (epistemic) is not part of the spread: it is the
same for every structure at θ, not a seed effect.

File format
-----------
:func:`save_emulator` writes one ``.npz`` (no pickles) with the arrays of :class:`Emulator` and
a JSON string ``meta`` holding ``format`` (:data:`FORMAT_VERSION`), the fitted kernel, the
training-set size and free-form fields (e.g. the dataset's path and the test metrics);
:func:`load_emulator` refuses another format version.
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
from scipy.special import expit, logit

__all__ = [
    "FORMAT_VERSION",
    "Emulator",
    "direction_features",
    "emulator_metrics",
    "fit_emulator",
    "load_dataset_arrays",
    "load_emulator",
    "mape_per_direction",
    "save_emulator",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_ETA_CLIP = 1e-6  # η is clipped to [clip, 1 − clip] before the logit
_BLOCK_ROWS = 2048  # θ rows per kernel block (a 2048 × 3n float64 block: ~9 MB at n = 192)
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
        noise_std: seed spread σ_n of logit η (std between structures of one θ).
        meta: JSON-able description (kernel, training size, metrics, …).
    """

    shift: np.ndarray
    scale: np.ndarray
    train_z: np.ndarray
    dual: np.ndarray
    y_mean: float
    noise_std: float
    meta: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def _train_augmented(self) -> np.ndarray:
        """``[Z, −1/2, −|Z|²/2]ᵀ``, shape (6, m): a row ``[z, |z|², 1]`` times its transpose is
        ``−|z − Z|² / 2``, so one matrix product gives the kernel's exponent."""
        half_sq = -0.5 * np.einsum("ij,ij->i", self.train_z, self.train_z)
        ones = np.full(len(self.train_z), -0.5)
        return np.ascontiguousarray(np.column_stack([self.train_z, ones, half_sq]).T)

    def predict_logit(
        self, theta: np.ndarray, axes: Sequence[int] = (0, 1, 2)
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and seed spread of logit η.

        Args:
            theta: shape (B, 4) float.
            axes: which directions to predict (0, 1, 2 = x, y, z).

        Returns:
            ``(mu, sigma)``, each (B, len(axes)) float64: the GP posterior mean of logit η along
            the axes and the seed spread σ_n (the same for every row and axis).
        """
        z = (direction_features(theta)[list(axes)] - self.shift) / self.scale  # (A, B, 4)
        k, n = z.shape[:2]
        rows = np.concatenate([z, np.sum(z * z, axis=-1, keepdims=True), np.ones((k, n, 1))], -1)
        mu = np.empty((n, k))
        for start in range(0, n, _BLOCK_ROWS):
            block = rows[:, start : start + _BLOCK_ROWS].reshape(-1, 6)
            exponent = block @ self._train_augmented
            np.exp(exponent, out=exponent)
            mu[start : start + _BLOCK_ROWS] = (exponent @ self.dual).reshape(k, -1).T
        mu += self.y_mean
        return mu, np.full_like(mu, self.noise_std)

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
        values = expit(mu[..., None] + sigma[..., None] * nodes)
        mean = values @ weights
        var = np.maximum((values * values) @ weights - mean * mean, 0.0)
        return mean, np.sqrt(var)


def _clipped_logit(eta: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(eta, dtype=np.float64), _ETA_CLIP, 1.0 - _ETA_CLIP))


def fit_emulator(
    theta: np.ndarray,
    eta: np.ndarray,
    *,
    restarts: int = 4,
    seed: int = 0,
    meta: Mapping[str, Any] | None = None,
) -> Emulator:
    """Fit the emulator on solver results (module docstring, "Model").

    Args:
        theta: (a_x, a_y, a_z, ε) of the structures, shape (n, 4) float.
        eta: their solver η along x, y, z, shape (n, 3), each in (0, 1).
        restarts: extra L-BFGS-B starts of the marginal-likelihood fit (from ``seed``).
        seed: random state of the restarts (the fit is deterministic given it).
        meta: extra JSON-able fields stored with the emulator.

    Returns:
        The fitted :class:`Emulator`.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    theta = np.asarray(theta, dtype=np.float64).reshape(-1, 4)
    eta = np.asarray(eta, dtype=np.float64).reshape(-1, 3)
    if len(theta) != len(eta) or len(theta) < 4:
        raise ValueError(f"need matching theta/eta rows (>= 4), got {len(theta)}, {len(eta)}")
    x = direction_features(theta).reshape(-1, 4)
    y = _clipped_logit(eta.T).reshape(-1)
    shift, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    smooth = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(4), (1e-2, 1e3))
    kernel = smooth + WhiteKernel(1e-2, (1e-8, 1.0))
    gpr = GaussianProcessRegressor(
        kernel, normalize_y=True, n_restarts_optimizer=restarts, random_state=seed
    )
    with warnings.catch_warnings():
        # a length scale at its upper bound means η does not depend on that feature: expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        gpr.fit((x - shift) / std, y)
    fitted = gpr.kernel_
    constant = float(fitted.k1.k1.constant_value)
    length = np.asarray(fitted.k1.k2.length_scale, dtype=np.float64)
    noise = float(fitted.k2.noise_level)
    y_std = float(np.asarray(gpr._y_train_std))
    z = (x - shift) / (std * length)
    info = {
        "format": FORMAT_VERSION,
        "model": "gp_rbf_pooled_logit",
        "kernel": str(fitted),
        "constant": constant,
        "length_scale": length.tolist(),
        "noise_level": noise,
        "feature_std": std.tolist(),
        "y_std": y_std,
        "log_marginal_likelihood": float(gpr.log_marginal_likelihood_value_),
        "structures": len(theta),
        **dict(meta or {}),
    }
    emulator = Emulator(
        shift=shift,
        scale=std * length,
        train_z=z,
        dual=np.asarray(gpr.alpha_, dtype=np.float64).reshape(-1) * constant * y_std,
        y_mean=float(np.asarray(gpr._y_train_mean)),
        noise_std=math.sqrt(noise) * y_std,
        meta=info,
    )
    logger.info(
        "emulator fitted on %d structures: %s; seed spread of logit eta %.4f",
        len(theta),
        fitted,
        emulator.noise_std,
    )
    return emulator


def save_emulator(emulator: Emulator, path: str | os.PathLike[str]) -> None:
    """Write the emulator to one ``.npz`` file (module docstring, "File format"), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    meta = {**emulator.meta, "format": FORMAT_VERSION}
    np.savez(
        tmp,
        shift=emulator.shift,
        scale=emulator.scale,
        train_z=emulator.train_z,
        dual=emulator.dual,
        y_mean=np.float64(emulator.y_mean),
        noise_std=np.float64(emulator.noise_std),
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
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: emulator format {meta.get('format')!r}, expected {FORMAT_VERSION}"
            )
        return Emulator(
            shift=data["shift"],
            scale=data["scale"],
            train_z=data["train_z"],
            dual=data["dual"],
            y_mean=float(data["y_mean"]),
            noise_std=float(data["noise_std"]),
            meta=meta,
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


def load_dataset_arrays(
    dataset_path: str | os.PathLike[str], splits: tuple[str, ...] = ("train",)
) -> tuple[np.ndarray, np.ndarray]:
    """θ (n, 4) float64 and solver η (n, 3) float64 of the given splits of a dataset store.

    The store is the zarr group of :func:`spinodoid.data.assemble_dataset`; rows keep the
    store's order.
    """
    import zarr

    from spinodoid.data import SPLITS

    group = zarr.open_group(Path(dataset_path), mode="r")
    codes = [SPLITS.index(s) for s in splits]
    keep = np.isin(np.asarray(group["split"][:]), codes)
    theta = np.asarray(group["theta"][:], dtype=np.float64)[keep]
    eta = np.asarray(group["eta"][:], dtype=np.float64)[keep]
    return theta, eta
