"""Tests of spinodoid.abc.simulators.emulator: the emulator as an ABC-PMC simulator."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy.special import expit, logit

from spinodoid import abc
from spinodoid.abc.simulators.emulator import emulator_simulator, seed_normals
from spinodoid.structures.prior import in_support, prior_density, sample_prior
from spinodoid.surrogates import emulator as em

THETA_STAR = np.array([0.09, 0.12, 0.16, 0.6])


@pytest.fixture(scope="module")
def emulator() -> em.Emulator:
    """A GP fitted on 40 synthetic structures (its accuracy is not what is tested here)."""
    rng = np.random.default_rng(0)
    theta = sample_prior(rng, 40)
    f = em.direction_features(theta)
    logit_eta = (0.9 * f[..., 0] - 0.35 * f[..., 1] + 3.0 * f[..., 3] - 1.0).T
    eta = expit(logit_eta + 0.05 * rng.standard_normal((40, 3)))
    return em.fit_emulator(theta, eta, restarts=0)


@pytest.fixture(scope="module")
def target(emulator) -> np.ndarray:
    return emulator.predict(THETA_STAR[None])[0][0]


class Counting:
    """Wraps a simulator; counts rows and calls, checks the support, keeps ``prune``."""

    def __init__(self, simulate) -> None:
        self.simulate, self.rows, self.calls = simulate, 0, 0

    def __call__(self, theta, index, prune=None):
        assert in_support(theta).all()
        self.rows += len(theta)
        self.calls += 1
        return self.simulate(theta, index, prune=prune)


def _run(simulate, target, tolerances, seed=0, **kwargs) -> abc.ABCResult:
    kwargs.setdefault("particles", 300)
    kwargs.setdefault("batch_size", 1024)
    kwargs.setdefault("max_evaluations", 2_000_000)
    kwargs.setdefault("pilot_size", 0)
    kwargs.setdefault("progress", False)
    return abc.abc_pmc(
        simulate,
        target,
        sample_prior,
        prior_density,
        in_support,
        kwargs.pop("particles"),
        tolerances,
        np.random.default_rng(seed),
        kwargs.pop("batch_size"),
        kwargs.pop("max_evaluations"),
        **kwargs,
    )


# ------------------------------------------------------------------------ the simulator


def test_seed_normals_are_standard_and_pure():
    seeds = abc.evaluation_seeds(5, np.arange(200_000))
    z = np.stack([seed_normals(seeds, axis) for axis in range(3)])
    assert np.abs(z.mean(axis=1)).max() < 0.01
    np.testing.assert_allclose(z.std(axis=1), 1.0, atol=0.01)
    assert np.abs(np.corrcoef(z)[np.triu_indices(3, 1)]).max() < 0.01
    np.testing.assert_array_equal(seed_normals(seeds[7:9], 1), z[1, 7:9])


def test_sample_mode_draws_over_the_candidate_seed(emulator):
    """η of candidate k is sigmoid(μ + σ Z(evaluation_seeds(base, k), axis)), whatever its row."""
    simulate = emulator_simulator(emulator, base_seed=9)
    theta = np.repeat(THETA_STAR[None], 4, axis=0)
    index = np.array([0, 1, 7, 7])
    eta = simulate(theta, index)
    assert eta.shape == (4, 3) and eta.dtype == np.float64
    assert not np.allclose(eta[0], eta[1])  # same θ, another candidate: another structure
    np.testing.assert_array_equal(eta[2], eta[3])
    np.testing.assert_array_equal(eta, simulate(theta, index))
    mu, sigma = emulator.predict_logit(theta[:1])
    seed = abc.evaluation_seeds(9, np.array([7]))
    z = emulator.axis_mixing() @ np.array([seed_normals(seed, axis)[0] for axis in range(3)])
    np.testing.assert_allclose(eta[2], expit(mu[0] + sigma[0] * z), rtol=1e-9)
    other = emulator_simulator(emulator, base_seed=10)(theta, index)
    assert not np.allclose(other, eta)


def test_sample_mode_spread_is_the_emulators(emulator):
    simulate = emulator_simulator(emulator, base_seed=1)
    theta = np.repeat(THETA_STAR[None], 50_000, axis=0)
    eta = simulate(theta, np.arange(len(theta)))
    mean, spread = emulator.predict(THETA_STAR[None])
    np.testing.assert_allclose(eta.mean(axis=0), mean[0], rtol=2e-3)
    np.testing.assert_allclose(eta.std(axis=0), spread[0], rtol=0.02)


def test_sample_mode_correlates_the_axes_as_the_emulator_says(emulator):
    correlated = dataclasses.replace(emulator, axis_correlation=-0.3)
    theta = np.repeat(THETA_STAR[None], 20_000, axis=0)
    eta = emulator_simulator(correlated, base_seed=2)(theta, np.arange(len(theta)))
    mu, sigma = correlated.predict_logit(THETA_STAR[None])
    z = (logit(eta) - mu) / sigma
    pairs = np.corrcoef(z.T)[np.triu_indices(3, k=1)]
    np.testing.assert_allclose(pairs, -0.3, atol=0.03)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.03)


def test_mean_mode_ignores_the_seed(emulator):
    simulate = emulator_simulator(emulator, mode="mean")
    theta = sample_prior(np.random.default_rng(2), 5)
    eta = simulate(theta, np.arange(5))
    np.testing.assert_array_equal(eta, simulate(theta, np.arange(5) + 100))
    np.testing.assert_allclose(eta, emulator.predict(theta)[0], rtol=1e-9)
    with pytest.raises(ValueError, match="mode"):
        emulator_simulator(emulator, mode="median")


def test_simulator_loads_a_file(emulator, tmp_path):
    em.save_emulator(emulator, tmp_path / "emulator.npz")
    theta = sample_prior(np.random.default_rng(3), 6)
    from_file = emulator_simulator(tmp_path / "emulator.npz", 4)(theta, np.arange(6))
    np.testing.assert_array_equal(from_file, emulator_simulator(emulator, 4)(theta, np.arange(6)))


def test_prune_skips_the_remaining_axes(emulator):
    simulate = emulator_simulator(emulator, base_seed=2)
    theta = sample_prior(np.random.default_rng(4), 6)
    full = simulate(theta, np.arange(6))
    seen = []

    def prune(partial: np.ndarray) -> np.ndarray:
        seen.append(partial.copy())
        return np.arange(len(partial)) % 2 == 0 if len(seen) == 1 else np.arange(6) == 0

    pruned = simulate(theta, np.arange(6), prune=prune)
    assert len(seen) == 2 and np.isnan(seen[0][:, 1:]).all()
    np.testing.assert_allclose(pruned[:, 0], full[:, 0], rtol=1e-9)
    np.testing.assert_allclose(pruned[[0, 2, 4], 1], full[[0, 2, 4], 1], rtol=1e-9)
    np.testing.assert_allclose(pruned[0], full[0], rtol=1e-9)
    assert np.isnan(pruned[[1, 3, 5], 1:]).all() and np.isnan(pruned[[2, 4], 2]).all()


# ------------------------------------------------------------------------ inside ABC-PMC


@pytest.mark.parametrize("mode", ["mean", "sample"])
def test_abc_posterior_matches_rejection_sampling(emulator, target, mode):
    """ABC-PMC's weighted posterior equals plain ABC rejection from the prior (known answer)."""
    tols = [100.0, 30.0, 10.0, 5.0]
    result = _run(emulator_simulator(emulator, 3, mode), target, tols, particles=400)
    assert result.status == "completed" and np.all(result.rho <= 5.0)
    theta = sample_prior(np.random.default_rng(11), 200_000)
    eta = emulator_simulator(emulator, 12, mode)(theta, np.arange(len(theta)))
    accepted = theta[abc.discrepancy(eta, target) <= 5.0]
    assert len(accepted) > 1000
    ess = result.generations[-1].ess
    reference_std = accepted.std(axis=0)
    se = reference_std / math.sqrt(ess)
    np.testing.assert_array_less(np.abs(result.posterior_mean() - accepted.mean(axis=0)), 4 * se)
    np.testing.assert_allclose(result.posterior_std(), reference_std, rtol=0.25)


def test_sample_mode_accepts_structures_not_mean_eta(emulator, target):
    """At τ = 1 % (below the seed's effect on ρ), sample mode accepts candidates whose own draw
    met τ although their mean η does not; in mean mode every particle's mean η meets τ."""
    tols = [100.0, 30.0, 10.0, 3.0, 1.0]
    runs = {
        mode: _run(emulator_simulator(emulator, 3, mode), target, tols, particles=200)
        for mode in ("mean", "sample")
    }
    rho_of_mean = {
        mode: abc.discrepancy(emulator.predict(run.theta)[0], target) for mode, run in runs.items()
    }
    assert np.all(rho_of_mean["mean"] <= 1.0 + 1e-9)
    assert np.mean(rho_of_mean["sample"] > 1.0) > 0.3


def test_exact_counts_and_pruning(emulator, target):
    """Every simulated row is one evaluation; pruning changes only the components simulated."""
    tols = [100.0, 20.0, 8.0, 4.0]
    plain_sim = Counting(emulator_simulator(emulator, 5))

    def plain_call(theta, index):  # no ``prune`` keyword: the sampler does not prune
        return plain_sim(theta, index)

    pruned_sim = Counting(emulator_simulator(emulator, 5))
    plain = _run(plain_call, target, tols, batch_size=333, pilot_size=500)
    pruned = _run(pruned_sim, target, tols, batch_size=333, pilot_size=500)
    assert plain.evaluations == plain_sim.rows and pruned.evaluations == pruned_sim.rows
    assert plain.evaluations == pruned.evaluations
    for a, b in zip(plain.generations, pruned.generations, strict=True):
        np.testing.assert_array_equal(a.theta, b.theta)
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_allclose(a.rho, b.rho, rtol=1e-9)
        assert a.components_simulated == 3 * a.evaluations
    last = pruned.generations[-1]
    assert last.components_simulated < 2 * last.evaluations


def test_budget_stop_is_exact(emulator, target):
    sim = Counting(emulator_simulator(emulator, 6))
    result = _run(sim, target, [100.0, 10.0, 0.01], max_evaluations=20_003, batch_size=1000)
    assert result.status == "budget_exhausted" and "budget" in result.message
    assert result.evaluations == sim.rows == 20_003
    assert len(result.generations) == 2
    assert np.all(np.diff(result.best_rho) >= 0)


def test_unreachable_target_refused_after_the_pilot(emulator):
    sim = Counting(emulator_simulator(emulator, 7))
    with pytest.raises(abc.UnreachableTargetError, match="outside what the prior produces"):
        _run(sim, [0.02, 0.6, 0.02], [100.0, 10.0], pilot_size=512, batch_size=256)
    assert sim.rows == 512


def test_resume_gives_the_uninterrupted_run(emulator, target, tmp_path):
    tols = [100.0, 30.0, 10.0, 5.0]
    full = _run(emulator_simulator(emulator, 8), target, tols, out_dir=tmp_path)
    for suffix in ("csv", "json"):  # interrupted after generation 1
        (tmp_path / f"gen_002.{suffix}").unlink()
        (tmp_path / f"gen_003.{suffix}").unlink()
    sim = Counting(emulator_simulator(emulator, 8))
    resumed = _run(sim, target, tols, out_dir=tmp_path)
    np.testing.assert_array_equal(resumed.theta, full.theta)
    np.testing.assert_array_equal(resumed.weights, full.weights)
    assert resumed.evaluations == full.evaluations
    assert sim.rows == full.evaluations - full.generations[1].evaluations_total


def test_run_design_takes_an_emulator_file(emulator, target, tmp_path):
    path = tmp_path / "emulator.npz"
    em.save_emulator(emulator, path)
    assert abc.simulator_of(path) == "emulator" and abc.simulator_of("best.pt") == "cnn"
    result = abc.run_design(
        path,
        target,
        tmp_path / "design",
        particles=64,
        log10_tolerances=(2.0, 1.0, 0.5),
        batch_size=512,
        max_evaluations=200_000,
        device="cpu",
        seed=3,
        progress=False,
    )
    assert result.status == "completed" and result.final_tolerance == pytest.approx(10**0.5)
    written = (tmp_path / "design" / "theta_hat.json").read_text()
    assert '"simulator": "emulator"' in written
    mean, _ = emulator.predict(result.posterior_mean()[None])
    assert 100 * np.mean(np.abs(mean[0] - target) / target) < 10**0.5


def test_run_design_in_mean_mode_scores_the_mean_eta(emulator, target, tmp_path):
    path = tmp_path / "emulator.npz"
    em.save_emulator(emulator, path)
    kwargs = dict(
        particles=64, log10_tolerances=(2.0, 1.0, 0.5), batch_size=512, max_evaluations=200_000,
        device="cpu", seed=3, progress=False,
    )  # fmt: skip
    result = abc.run_design(path, target, tmp_path / "mean", emulator_mode="mean", **kwargs)
    written = json.loads((tmp_path / "mean" / "theta_hat.json").read_text())
    assert written["emulator_mode"] == "mean"
    # every particle's mean η is within the last tolerance (in sample mode only its draw was)
    mean, _ = emulator.predict(result.theta)
    assert (100 * np.mean(np.abs(mean - target) / target, axis=1) <= 10**0.5).all()
    with pytest.raises(ValueError, match="mode"):
        abc.run_design(path, target, tmp_path / "bad", emulator_mode="median", **kwargs)
