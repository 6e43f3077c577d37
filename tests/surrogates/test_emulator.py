"""Tests of spinodoid.surrogates.emulator: a GP emulator of η(θ) recovers known functions and
noise."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit

from spinodoid.structures.prior import sample_prior
from spinodoid.surrogates import emulator as em

NOISE = 0.08  # seed spread of logit η in the synthetic data


def true_logit(theta: np.ndarray) -> np.ndarray:
    """A smooth, axis-symmetric logit η(θ), shape (B, 3), in the range of the real data."""
    f = em.direction_features(theta)  # (3, B, 4)
    lateral = -0.35 * f[..., 1] - 0.3 * f[..., 2]
    return (0.9 * f[..., 0] + lateral + 3.0 * f[..., 3] + 2.0 * f[..., 3] ** 2 - 2.3).T


def true_mean(theta: np.ndarray, sigma: float = NOISE) -> np.ndarray:
    """E[sigmoid(μ + σZ)] by a fine Gauss–Hermite rule (an independent reference)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    return expit(true_logit(theta)[..., None] + sigma * nodes) @ (weights / weights.sum())


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta = sample_prior(rng, n)
    return theta, expit(true_logit(theta) + NOISE * rng.standard_normal((n, 3)))


@pytest.fixture(scope="module")
def fitted() -> em.Emulator:
    theta, eta = synthetic(120, 0)
    return em.fit_emulator(theta, eta, restarts=1, meta={"dataset": "synthetic"})


def test_recovers_known_mean_and_spread(fitted):
    """On 120 noisy structures: mean η within 1 % of the truth on average (99 % of the prior's
    mass within 3 %; the worst errors sit in its corners); spread of logit η within 10 % in the
    median, 20 % for 90 % of the prior's mass (the log-variance regression's own noise)."""
    theta = sample_prior(np.random.default_rng(1), 2000)
    mean, spread = fitted.predict(theta)
    rel = np.abs(mean - true_mean(theta)) / true_mean(theta)
    assert rel.mean() < 0.01 and np.quantile(rel, 0.99) < 0.03
    logit_mu, logit_spread = fitted.predict_logit(theta)
    assert np.median(logit_spread) == pytest.approx(NOISE, rel=0.1)
    assert np.quantile(np.abs(logit_spread / NOISE - 1), 0.9) < 0.2
    slope = expit(logit_mu) * (1 - expit(logit_mu))  # d η / d logit η
    np.testing.assert_allclose(spread, logit_spread * slope, rtol=0.02)


def test_recovers_a_spread_that_depends_on_porosity():
    """Seed spread of logit η falling from 0.16 at ε = 0.3 to 0.04 at ε = 0.85: within 25 %."""
    rng = np.random.default_rng(9)
    theta = sample_prior(rng, 150)

    def spread(t: np.ndarray) -> np.ndarray:
        return 0.16 * np.exp(np.log(0.25) * (t[:, 3:] - 0.3) / 0.55)

    eta = expit(true_logit(theta) + spread(theta) * rng.standard_normal((150, 3)))
    fitted = em.fit_emulator(theta, eta, restarts=0)
    test = sample_prior(np.random.default_rng(10), 500)
    _, predicted = fitted.predict_logit(test)
    np.testing.assert_allclose(np.median(predicted / spread(test)), 1.0, atol=0.15)
    assert np.quantile(np.abs(predicted / spread(test) - 1), 0.9) < 0.25
    white = em.fit_emulator(theta, eta, heteroscedastic=False, restarts=0)
    assert np.ptp(white.predict_logit(test)[1]) == 0.0


def test_predict_matches_sklearn_with_the_fitted_kernel():
    """The batched mean equals scikit-learn's predict with the same hyperparameters."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    theta, eta = synthetic(40, 0)
    fitted = em.fit_emulator(theta, eta, heteroscedastic=False, restarts=0)
    meta = fitted.meta
    x = em.direction_features(theta).reshape(-1, 4)
    std = np.asarray(meta["feature_std"])
    kernel = ConstantKernel(meta["constant"]) * RBF(meta["length_scale"])
    kernel += WhiteKernel(meta["noise_level"])
    gpr = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=None)
    gpr.fit((x - fitted.shift) / std, np.log(eta.T.reshape(-1) / (1 - eta.T.reshape(-1))))
    test = sample_prior(np.random.default_rng(2), 300)
    reference = gpr.predict(((em.direction_features(test) - fitted.shift) / std).reshape(-1, 4))
    mu, _ = fitted.predict_logit(test)
    np.testing.assert_allclose(mu, reference.reshape(3, -1).T, rtol=0, atol=1e-9)
    one_axis, _ = fitted.predict_logit(test, axes=(2,))
    np.testing.assert_allclose(one_axis[:, 0], mu[:, 2], rtol=0, atol=1e-12)


def test_axis_symmetry(fitted):
    """Permuting (a_x, a_y, a_z) permutes η; swapping the lateral axes leaves η_x unchanged."""
    theta = sample_prior(np.random.default_rng(3), 50)
    mean, _ = fitted.predict(theta)
    perm = [2, 0, 1]
    permuted, _ = fitted.predict(np.column_stack([theta[:, perm], theta[:, 3]]))
    np.testing.assert_allclose(permuted, mean[:, perm], rtol=1e-10)
    swapped, _ = fitted.predict(theta[:, [0, 2, 1, 3]])
    np.testing.assert_allclose(swapped[:, 0], mean[:, 0], rtol=1e-10)


def test_moments_match_monte_carlo(fitted):
    theta = sample_prior(np.random.default_rng(4), 3)
    mean, spread = fitted.predict(theta)
    mu, sigma = fitted.predict_logit(theta)
    draws = expit(mu + sigma * np.random.default_rng(5).standard_normal((400_000, 1, 1)))
    np.testing.assert_allclose(mean, draws.mean(axis=0), rtol=5e-4)
    np.testing.assert_allclose(spread, draws.std(axis=0), rtol=5e-3)


def test_fit_is_deterministic():
    theta, eta = synthetic(30, 8)
    first, again = (em.fit_emulator(theta, eta, restarts=1) for _ in range(2))
    np.testing.assert_array_equal(again.dual, first.dual)
    np.testing.assert_array_equal(again.scale, first.scale)
    np.testing.assert_array_equal(again.noise_coef, first.noise_coef)


def test_recovers_the_correlation_of_a_structures_axes():
    rng = np.random.default_rng(4)
    theta = sample_prior(rng, 150)
    rho = -0.3
    mixing = np.linalg.cholesky((1 - rho) * np.eye(3) + rho * np.ones((3, 3)))
    noise = NOISE * rng.standard_normal((150, 3)) @ mixing.T
    fitted = em.fit_emulator(theta, expit(true_logit(theta) + noise), restarts=0)
    assert fitted.axis_correlation == pytest.approx(rho, abs=0.12)
    assert fitted.meta["axis_correlation"] == fitted.axis_correlation
    independent = em.fit_emulator(*synthetic(150, 5), restarts=0)
    assert abs(independent.axis_correlation) < 0.12


def test_save_load_roundtrip(fitted, tmp_path):
    path = tmp_path / "sub" / "emulator.npz"
    em.save_emulator(fitted, path)
    loaded = em.load_emulator(path)
    theta = sample_prior(np.random.default_rng(6), 100)
    for a, b in zip(fitted.predict(theta), loaded.predict(theta), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.meta["dataset"] == "synthetic" and loaded.meta["structures"] == 120
    assert loaded.axis_correlation == fitted.axis_correlation
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["meta"] = np.array(json.dumps({**loaded.meta, "format": em.FORMAT_VERSION + 1}))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ValueError, match="format"):
        em.load_emulator(tmp_path / "future.npz")


def test_metrics_per_direction(fitted):
    theta, eta = synthetic(400, 7)
    metrics = em.emulator_metrics(fitted, theta, eta)
    mean, _ = fitted.predict(theta)
    expected = 100 * np.mean(np.abs(mean - eta) / eta, axis=0)
    np.testing.assert_allclose(metrics["mape"], expected)
    # held-out error is the seed's effect: close to the floor, and the spread is calibrated
    assert np.all(np.asarray(metrics["mape"]) < 1.2 * np.asarray(metrics["seed_floor"]))
    assert 0.9 < metrics["coverage_95"] < 0.99
    assert metrics["structures"] == 400


def test_mape_per_direction():
    predicted = np.array([[0.5, 0.2, 0.3], [0.4, 0.2, 0.3]])
    actual = np.array([[0.5, 0.25, 0.3], [0.5, 0.2, 0.2]])
    np.testing.assert_allclose(em.mape_per_direction(predicted, actual), [10.0, 10.0, 25.0])


def test_fit_refuses_mismatched_rows():
    with pytest.raises(ValueError, match="rows"):
        em.fit_emulator(np.ones((5, 4)), np.full((4, 3), 0.5))


def test_evaluation_table_has_table_1_columns_and_a_seed_floor(fitted):
    splits = {"train": synthetic(40, 3), "test": synthetic(60, 4)}
    table = em.evaluation_table(fitted, splits)
    assert table["split"].tolist() == ["train"] * 4 + ["test"] * 4
    assert table["direction"].tolist()[:4] == ["x", "y", "z", "all"]
    test = table[table["split"] == "test"].set_index("direction")
    assert test.loc["all", "samples"] == 180 and test.loc["x", "samples"] == 60
    mean, _ = fitted.predict(splits["test"][0])
    expected = 100 * np.mean(np.abs(mean - splits["test"][1]) / splits["test"][1])
    assert test.loc["all", "mape_percent"] == pytest.approx(expected)
    # the synthetic noise is the seed floor: a good fit sits near it, not far below or above
    assert 0.5 < test.loc["all", "mape_percent"] / test.loc["all", "seed_floor_percent"] < 2.0


def test_training_subset_bounds_the_fit():
    theta, eta = synthetic(10, 5)
    small_theta, small_eta = em.training_subset(theta, eta, limit=4)
    np.testing.assert_array_equal(small_theta, theta[:4])
    np.testing.assert_array_equal(small_eta, eta[:4])
    assert len(em.training_subset(theta, eta)[0]) == 10
