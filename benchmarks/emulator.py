"""Model selection for the η(θ) emulator, on the train and validation splits only.

The test split is not read while a model is chosen. For each ``n`` of ``--sizes``, the first
``n`` structures of train + val are split into ``--folds`` folds (scikit-learn ``KFold``,
shuffled with a fixed seed); each candidate model is fitted on all folds but one and scored on
the one left out, and the scores are pooled over the folds: MAPE per direction (percent,
against each structure's solver η, so it includes the seed's effect), next to the *seed floor*,
the MAPE that the exact mean would have under the model's own spread
(``100 · √(2/π) · mean(spread / η̂)``), and the fraction of held-out η within ±1.96 spreads.
Candidates:

- ``gp-pooled-logit``: the library's model (:mod:`spinodoid.surrogates.emulator`): one GP for
  the three directions on the axis-symmetric features, logit η, anisotropic RBF, seed variance
  log-linear in (ε, ε², log a) (heteroscedastic).
- ``gp-pooled-logit-white``: the same with a constant seed variance (white noise).
- ``gp-axis-logit``: one GP per direction on (log a_x, log a_y, log a_z, ε), logit η.
- ``gp-axis-raw``: one GP per direction on θ itself, η itself.
- ``mlp-pooled-logit``: an ensemble of 5 scikit-learn MLPs (2 × 32 tanh, L-BFGS, L2 weight decay)
  on the pooled features, logit η; spread = the training residual std.

``--test MODEL`` then touches the test split once: MODEL fitted on all of train + val, scored on
test (the number the report prints beside the CNN's).

Usage: python benchmarks/emulator.py --dataset results/dataset.zarr [--sizes 48 96]
       [--folds 5] [--models gp-pooled-logit ...] [--test gp-pooled-logit] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.special import expit, logit
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.model_selection import KFold
from sklearn.neural_network import MLPRegressor

from spinodoid.formats.dataset import split_labels
from spinodoid.surrogates.emulator import (
    direction_features,
    fit_emulator,
    mape_per_direction,
)

Predictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # θ -> (mean, spread) (B, 3)


def _gp(x: np.ndarray, y: np.ndarray) -> tuple[GaussianProcessRegressor, np.ndarray, np.ndarray]:
    """A GP with an anisotropic RBF + white noise on standardised x (returns it and the scaler)."""
    shift, scale = x.mean(axis=0), x.std(axis=0)
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(x.shape[1]), (1e-2, 1e3))
    kernel += WhiteKernel(1e-2, (1e-8, 1.0))
    gpr = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2, random_state=0)
    return gpr.fit((x - shift) / scale, y), shift, scale


def _gp_noise_std(gpr: GaussianProcessRegressor) -> float:
    return math.sqrt(gpr.kernel_.k2.noise_level) * float(np.asarray(gpr._y_train_std))


def fit_gp_pooled_logit(theta: np.ndarray, eta: np.ndarray, heteroscedastic: bool) -> Predictor:
    return fit_emulator(theta, eta, heteroscedastic=heteroscedastic, restarts=2).predict


def fit_gp_axis(theta: np.ndarray, eta: np.ndarray, transformed: bool) -> Predictor:
    """One GP per direction; ``transformed``: log a and logit η, else θ and η themselves."""

    def inputs(t: np.ndarray) -> np.ndarray:
        return np.column_stack([np.log(t[:, :3]), t[:, 3]]) if transformed else t

    fits = [_gp(inputs(theta), logit(eta[:, i]) if transformed else eta[:, i]) for i in range(3)]

    def predict(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        means, spreads = [], []
        for gpr, shift, scale in fits:
            mu = gpr.predict((inputs(t) - shift) / scale)
            sd = _gp_noise_std(gpr)
            if transformed:  # delta method is enough for a score; the library integrates
                means.append(expit(mu))
                spreads.append(sd * expit(mu) * (1 - expit(mu)))
            else:
                means.append(mu)
                spreads.append(np.full_like(mu, sd))
        return np.column_stack(means), np.column_stack(spreads)

    return predict


def fit_mlp_pooled_logit(theta: np.ndarray, eta: np.ndarray, members: int = 5) -> Predictor:
    x = direction_features(theta).reshape(-1, 4)
    y = logit(eta.T.reshape(-1))
    shift, scale = x.mean(axis=0), x.std(axis=0)
    y_mean, y_std = y.mean(), y.std()
    nets = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for member in range(members):
            net = MLPRegressor(
                hidden_layer_sizes=(32, 32),
                activation="tanh",
                solver="lbfgs",
                alpha=1e-3,
                max_iter=3000,
                random_state=member,
            )
            nets.append(net.fit((x - shift) / scale, (y - y_mean) / y_std))

    def latent(t: np.ndarray) -> np.ndarray:
        feats = (direction_features(t) - shift) / scale  # (3, B, 4)
        out = [np.mean([n.predict(f) for n in nets], axis=0) for f in feats]
        return np.column_stack(out) * y_std + y_mean

    residual = float(np.std(latent(theta) - logit(eta)))

    def predict(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = expit(latent(t))
        return mean, residual * mean * (1 - mean)

    return predict


MODELS: dict[str, Callable[[np.ndarray, np.ndarray], Predictor]] = {
    "gp-pooled-logit": lambda t, e: fit_gp_pooled_logit(t, e, heteroscedastic=True),
    "gp-pooled-logit-white": lambda t, e: fit_gp_pooled_logit(t, e, heteroscedastic=False),
    "gp-axis-logit": lambda t, e: fit_gp_axis(t, e, transformed=True),
    "gp-axis-raw": lambda t, e: fit_gp_axis(t, e, transformed=False),
    "mlp-pooled-logit": fit_mlp_pooled_logit,
}


def score(mean: np.ndarray, spread: np.ndarray, eta: np.ndarray) -> dict:
    """MAPE per direction, seed floor and 95 % coverage of predictions (mean, spread) (n, 3)."""
    mape = mape_per_direction(mean, eta)
    floor = 100.0 * math.sqrt(2.0 / math.pi) * np.mean(spread / mean, axis=0)
    return {
        "mape": mape.round(3).tolist(),
        "mape_mean": round(float(mape.mean()), 3),
        "seed_floor": floor.round(3).tolist(),
        "coverage_95": round(float(np.mean(np.abs(eta - mean) <= 1.96 * spread)), 3),
    }


def cross_validated(name: str, theta: np.ndarray, eta: np.ndarray, folds: int) -> dict:
    """Model ``name`` scored on each fold of (theta, eta) after a fit on the other folds."""
    mean, spread = np.empty_like(eta), np.empty_like(eta)
    start = time.perf_counter()
    for fit_rows, held_rows in KFold(folds, shuffle=True, random_state=0).split(theta):
        predict = MODELS[name](theta[fit_rows], eta[fit_rows])
        mean[held_rows], spread[held_rows] = predict(theta[held_rows])
    fit_s = (time.perf_counter() - start) / folds
    record = {"model": name, "structures": len(theta), "folds": folds, "fit_s": round(fit_s, 2)}
    return record | score(mean, spread, eta)


def report(record: dict, label: str) -> None:
    print(
        f"  {label:<22} {record['model']:<21} MAPE x/y/z {record['mape']} (mean "
        f"{record['mape_mean']:.2f} %)  seed floor {record['seed_floor']}  "
        f"95 % coverage {record['coverage_95']:.2f}  fit {record['fit_s']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 96])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--test", choices=list(MODELS), help="then score this model on test")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    theta, eta = split_labels(args.dataset, ("train", "val"))
    print(f"{args.dataset}: {len(theta)} train + val structures, {args.folds}-fold CV")
    records = []
    for n in args.sizes:
        if n > len(theta):
            print(f"  skipping n = {n}: only {len(theta)} train + val structures")
            continue
        for name in args.models:
            record = cross_validated(name, theta[:n], eta[:n], args.folds)
            records.append(record)
            report(record, f"CV, n = {n}")
    if args.test:
        theta_test, eta_test = split_labels(args.dataset, ("test",))
        start = time.perf_counter()
        predict = MODELS[args.test](theta, eta)
        record = {"model": args.test, "structures": len(theta), "split": "test"}
        record["fit_s"] = round(time.perf_counter() - start, 2)
        record |= score(*predict(theta_test), eta_test)
        records.append(record)
        report(record, f"test ({len(theta_test)} held out)")
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
