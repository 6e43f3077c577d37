"""Tests of spinodoid.abc: ABC-PMC on toy simulators with known answers, and the CNN driver."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal, norm, truncnorm

from spinodoid import abc

SIGMA = 0.03  # toy observation noise


def _normal_noise(index: np.ndarray, dim: int, stream: int) -> np.ndarray:
    """Standard normal noise (B, dim) that depends only on the evaluation index (Box–Muller)."""
    cols = []
    for j in range(dim):
        u1 = (abc.evaluation_seeds(stream + 2 * j, index) + 0.5) / 2.0**32
        u2 = (abc.evaluation_seeds(stream + 2 * j + 1, index) + 0.5) / 2.0**32
        cols.append(np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2))
    return np.stack(cols, axis=1)


class Box:
    """Uniform prior on a box [lo, hi]^d; sampling consumes the stream row by row."""

    def __init__(self, lo: float, hi: float, dim: int) -> None:
        self.lo, self.hi, self.dim = lo, hi, dim

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.lo + (self.hi - self.lo) * rng.random((n, self.dim))

    def in_support(self, theta: np.ndarray) -> np.ndarray:
        return np.all((theta >= self.lo) & (theta <= self.hi), axis=-1)

    def density(self, theta: np.ndarray) -> np.ndarray:
        return np.where(self.in_support(theta), (self.hi - self.lo) ** -self.dim, 0.0)


class GaussianLocation:
    """η' = θ + σ·noise, noise a pure function of the evaluation index; counts its calls."""

    def __init__(self, prior: Box | None = None, stream: int = 11, sigma: float = SIGMA) -> None:
        self.prior, self.stream, self.sigma = prior, stream, sigma
        self.rows = 0
        self.calls = 0

    def __call__(self, theta: np.ndarray, index: np.ndarray) -> np.ndarray:
        assert theta.ndim == 2 and len(index) == len(theta)
        if self.prior is not None:
            assert self.prior.in_support(theta).all(), "simulated a θ outside the support"
        self.rows += len(theta)
        self.calls += 1
        return theta + self.sigma * _normal_noise(index, theta.shape[1], self.stream)


class PruningGaussianLocation(GaussianLocation):
    """The same η' as :class:`GaussianLocation`, simulated one component at a time with pruning."""

    def __init__(self, prior: Box | None = None) -> None:
        super().__init__(prior)
        self.components = 0

    def __call__(self, theta: np.ndarray, index: np.ndarray, prune=None) -> np.ndarray:
        full = super().__call__(theta, index)
        eta = np.full_like(full, np.nan)
        active = np.ones(len(theta), dtype=bool)
        for j in range(theta.shape[1]):
            eta[active, j] = full[active, j]
            self.components += int(active.sum())
            if prune is not None:
                active &= prune(eta)
        return eta


def _run(simulate, target, prior: Box, tolerances, seed=0, **kwargs) -> abc.ABCResult:
    kwargs.setdefault("particles", 200)
    kwargs.setdefault("batch_size", 512)
    kwargs.setdefault("max_evaluations", 200_000)
    kwargs.setdefault("pilot_size", 0)
    kwargs.setdefault("progress", False)
    return abc.abc_pmc(
        simulate,
        target,
        prior.sample,
        prior.density,
        prior.in_support,
        kwargs.pop("particles"),
        tolerances,
        np.random.default_rng(seed),
        kwargs.pop("batch_size"),
        kwargs.pop("max_evaluations"),
        **kwargs,
    )


# ------------------------------------------------------------------------ elementary pieces


def test_discrepancy_is_eq10():
    target = np.array([0.4, 0.5, 0.6])
    eta = np.array([[0.4, 0.5, 0.6], [0.44, 0.45, 0.6], [0.2, 1.0, 0.3]])
    expected = [0.0, 100 * (0.1 + 0.1 + 0.0) / 3, 100 * (0.5 + 1.0 + 0.5) / 3]
    np.testing.assert_allclose(abc.discrepancy(eta, target), expected, rtol=1e-12)


def test_discrepancy_lower_bound_bounds_eq10_from_below():
    target = np.array([0.4, 0.5, 0.6])
    eta = np.random.default_rng(0).uniform(0.05, 0.95, (200, 3))
    full = abc.discrepancy(eta, target)
    np.testing.assert_allclose(abc.discrepancy_lower_bound(eta, target), full, rtol=1e-12)
    partial = eta.copy()
    partial[::2, 2] = np.nan
    partial[::3, 1:] = np.nan
    bound = abc.discrepancy_lower_bound(partial, target)
    assert np.all(bound <= full + 1e-12) and np.any(bound < full)
    np.testing.assert_allclose(bound[0], 100 * abs(eta[0, 0] - 0.4) / 0.4 / 3, rtol=1e-12)


def _weights_direct(theta, prev_theta, prev_w, nu, density):
    """Beaumont's weights, one particle and one component at a time."""
    out = []
    for p in range(len(theta)):
        z = 0.0
        for q in range(len(prev_theta)):
            kernel = 1.0
            for i in range(len(nu)):
                kernel *= norm.pdf((theta[p, i] - prev_theta[q, i]) / nu[i]) / nu[i]
            z += prev_w[q] * kernel
        out.append(density(theta[p : p + 1])[0] / z)
    out = np.array(out)
    return out / out.sum()


def test_weights_match_direct_product_kernel():
    rng = np.random.default_rng(3)
    theta = rng.normal(size=(23, 4))
    prev = rng.normal(size=(17, 4))
    prev_w = rng.random(17)
    prev_w /= prev_w.sum()
    nu = np.array([0.3, 0.7, 1.1, 0.5])

    def density(t):  # non-constant, zero on part of the space
        return np.where(t[:, 0] < 1.0, np.exp(-np.sum(t**2, axis=1)), 0.0)

    got = abc.pmc_weights(theta, prev, prev_w, abc.Perturbation(np.diag(nu)), density)
    np.testing.assert_allclose(got, _weights_direct(theta, prev, prev_w, nu, density), rtol=1e-10)
    assert got.sum() == pytest.approx(1.0)
    assert np.all(got[theta[:, 0] >= 1.0] == 0.0)


def test_correlated_kernel_density_is_the_log_normal_mixture():
    """q(θ) of a full-covariance kernel perturbing columns 0 and 1 in log: the mixture of
    multivariate normals in u times the Jacobian Π 1/θ_i, against scipy term by term."""
    rng = np.random.default_rng(4)
    prev = np.column_stack([np.exp(rng.normal(size=(9, 2))), rng.normal(size=9)])
    prev_w = rng.random(9)
    prev_w /= prev_w.sum()
    theta = np.column_stack([np.exp(rng.normal(size=(7, 2))), rng.normal(size=7)])
    cov = np.array([[0.5, 0.3, 0.1], [0.3, 0.4, -0.2], [0.1, -0.2, 0.9]])
    kernel = abc.Perturbation(np.linalg.cholesky(cov), log_columns=(0, 1))
    u = np.column_stack([np.log(theta[:, :2]), theta[:, 2]])
    u_prev = np.column_stack([np.log(prev[:, :2]), prev[:, 2]])
    direct = [
        sum(w * multivariate_normal(m, cov).pdf(x) for w, m in zip(prev_w, u_prev, strict=True))
        / (t[0] * t[1])
        for x, t in zip(u, theta, strict=True)
    ]
    got = kernel.log_proposal_density(theta, prev, prev_w)
    np.testing.assert_allclose(np.exp(got), direct, rtol=1e-10)


@pytest.mark.parametrize(
    ("kind", "log_columns"), [("componentwise", ()), ("correlated", (0, 1, 2))]
)
def test_kernel_weights_give_importance_sampling_of_a_known_posterior(kind, log_columns):
    """Particles proposed by a fitted kernel (redrawn outside the support) and weighted by
    pmc_weights estimate the moments of a known posterior on the paper's prior: π(θ) times a
    Gaussian likelihood in (log a, ε) along a ridge (log a_x and log a_y correlated 0.95),
    whose moments come independently from 400 000 prior draws weighted by the likelihood.
    Exact weights agree to Monte Carlo error; dropping the Jacobian or the kernel's
    correlation from the weights would not."""
    from spinodoid.structures.prior import in_support, prior_density, sample_prior

    centre = np.array([np.log(0.09), np.log(0.13), np.log(0.2), 0.6])
    width = np.array([0.3, 0.3, 0.25, 0.08])
    correlation = np.eye(4)
    correlation[0, 1] = correlation[1, 0] = 0.95
    precision = np.linalg.inv(correlation * np.outer(width, width))

    def likelihood(t):
        x = np.column_stack([np.log(t[:, :3]), t[:, 3]]) - centre
        return np.exp(-0.5 * np.einsum("ni,ij,nj->n", x, precision, x))

    rng = np.random.default_rng(11)
    reference = sample_prior(rng, 400_000)
    ref_w = likelihood(reference)
    ref_mean = ref_w @ reference / ref_w.sum()
    ref_std = np.sqrt(ref_w @ (reference - ref_mean) ** 2 / ref_w.sum())
    prev_theta = reference[rng.choice(len(reference), size=20, p=ref_w / ref_w.sum())]
    prev = _generation(prev_theta, np.full(20, 1 / 20))  # few particles: the kernel's shape counts
    kernel = abc.fit_perturbation(prev, kind, log_columns)
    propose = abc.perturbation_proposer(prev, kernel, in_support, rng, [0])
    theta = propose(60_000)
    w = abc.pmc_weights(
        theta, prev.theta, prev.weights, kernel, lambda t: prior_density(t) * likelihood(t)
    )
    ess = 1.0 / np.sum(w**2)
    assert ess > 1_000
    mean = w @ theta
    error = ref_std * (1.0 / np.sqrt(ess) + 1.0 / np.sqrt(1.0 / np.sum((ref_w / ref_w.sum()) ** 2)))
    assert np.all(np.abs(mean - ref_mean) < 5 * error), (mean, ref_mean, error)
    std = np.sqrt(w @ (theta - mean) ** 2)
    np.testing.assert_allclose(std, ref_std, rtol=0.05)


def test_componentwise_kernel_is_the_papers():
    """ν_i = √2 × the weighted std of θ_i, and perturbation θ + ν z: the paper's Algorithm 1."""
    rng = np.random.default_rng(5)
    theta = rng.random((50, 4))
    w = rng.random(50)
    w /= w.sum()
    kernel = abc.fit_perturbation(_generation(theta, w), "componentwise")
    mean = w @ theta
    np.testing.assert_allclose(kernel.std, np.sqrt(2 * (w @ (theta - mean) ** 2)), rtol=1e-14)
    assert kernel.diagonal
    z = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(kernel.perturb(theta[:3], z), theta[:3] + kernel.std * z)
    with pytest.raises(ValueError, match="kernel must be one of"):
        abc.fit_perturbation(_generation(theta, w), "gaussian")


def _generation(theta: np.ndarray, weights: np.ndarray) -> abc.Generation:
    """A generation holding only particles and weights (what a kernel is fitted on)."""
    n = len(theta)
    return abc.Generation(
        0, 1.0, theta, weights, np.zeros(n), n, n, n, 3 * n, 0, 0.0, 0.0, None, {}
    )


def test_weighted_quantiles():
    values = np.array([3.0, 1.0, 2.0, 4.0])
    weights = np.ones(4)
    np.testing.assert_allclose(abc.weighted_quantiles(values, weights, [0.5]), [2.5])
    heavy = np.array([0.0, 0.0, 1.0, 0.0])  # all mass on the value 2
    np.testing.assert_allclose(abc.weighted_quantiles(values, heavy, [0.1, 0.9]), [2.0, 2.0])


def test_evaluation_seeds_deterministic_and_distinct():
    idx = np.arange(10_000)
    s1 = abc.evaluation_seeds(5, idx)
    np.testing.assert_array_equal(s1, abc.evaluation_seeds(5, idx))
    assert len(np.unique(s1)) == len(idx)
    assert not np.any(s1 == abc.evaluation_seeds(6, idx))
    assert s1.min() >= 0 and s1.max() < 2**32
    assert abc.design_seed(7, "case1") != abc.design_seed(7, "case2")


# ------------------------------------------------------------------------ posterior accuracy


def test_gaussian_location_posterior_matches_analytic():
    """ABC posterior = N(η, σ²) convolved with the acceptance region of eq. 10.

    With a flat prior, θ | accepted = η − noise − u, u uniform on the region
    |u_1|/η_1 + |u_2|/η_2 ≤ 2τ/100: a diamond with semi-axes A_i = 2τη_i/100, Var u_i = A_i²/6.
    """
    target = np.array([0.3, 0.6])
    prior = Box(0.0, 1.0, 2)
    tolerances = [100.0, 40.0, 15.0, 5.0]
    result = _run(GaussianLocation(prior), target, prior, tolerances, particles=1000)
    assert result.status == "completed"
    assert [g.tolerance for g in result.generations] == tolerances
    semi_axes = 2 * tolerances[-1] * target / 100
    var_true = SIGMA**2 + semi_axes**2 / 6
    ess = result.generations[-1].ess
    assert ess > 300
    mean, std = result.posterior_mean(), result.posterior_std()
    assert np.all(np.abs(mean - target) < 4 * np.sqrt(var_true / ess))
    np.testing.assert_allclose(std**2 / var_true, 1.0, atol=4 * math.sqrt(2 / ess))
    assert np.all(result.rho <= tolerances[-1])
    q = result.quantiles([0.05, 0.5, 0.95])
    np.testing.assert_allclose(q[1], target, atol=4 * np.sqrt(var_true / ess).max() * 1.3)
    assert np.all(q[0] < mean) and np.all(mean < q[2])


@pytest.mark.parametrize("kernel", abc.KERNELS)
def test_importance_weights_recover_truncated_posterior(kernel):
    """A broad likelihood under the flat prior on [0, 1]²: the posterior is a truncated normal.

    Here the prior truncation shapes the posterior, so the importance weights matter: with
    uniform weights instead, the variance comes out 4–6 standard errors too small. Both
    kernels, whole ABC-PMC runs: the same posterior.
    """
    target, sigma = np.array([0.3, 0.6]), 0.25
    prior = Box(0.0, 1.0, 2)
    tolerances = [100.0, 50.0, 25.0, 12.0]
    sim = GaussianLocation(prior, sigma=sigma)
    result = _run(sim, target, prior, tolerances, seed=3, particles=1000, kernel=kernel)
    semi_axes = 2 * tolerances[-1] * target / 100
    scale = np.sqrt(sigma**2 + semi_axes**2 / 6)  # the acceptance region, as a Gaussian
    lo, hi = (0.0 - target) / scale, (1.0 - target) / scale
    mean_true = truncnorm.mean(lo, hi, loc=target, scale=scale)
    var_true = truncnorm.var(lo, hi, loc=target, scale=scale)
    ess = result.generations[-1].ess
    z_mean = (result.posterior_mean() - mean_true) / np.sqrt(var_true / ess)
    z_var = (result.posterior_std() ** 2 / var_true - 1) / math.sqrt(2 / ess)
    assert np.all(np.abs(z_mean) < 3.5) and np.all(np.abs(z_var) < 3.5)


def test_adaptive_schedule_reaches_final_tolerance():
    target = np.array([0.3, 0.6])
    prior = Box(0.0, 1.0, 2)
    result = _run(GaussianLocation(prior), target, prior, [100.0, 5.0], schedule="adaptive")
    tols = [g.tolerance for g in result.generations]
    assert result.status == "completed"
    assert tols[0] == 100.0 and tols[-1] == 5.0
    assert all(b < a for a, b in zip(tols, tols[1:], strict=False))
    assert len(tols) > 2


def test_adaptive_schedule_stops_at_the_floor_of_a_target_out_of_reach():
    """θ_2 ≤ 0.5 in the prior, so η_2 = 0.6 is out of reach: ρ ≥ 100 · (0.1 / 0.6) / 2 = 8.3 %
    but for the (small) noise. The adaptive tolerance stalls there, long before the generation
    cap; the fixed schedule runs out of evaluations instead. (With noise comparable to the gap,
    lucky draws keep lowering the median and the budget ends the run.)"""
    target = np.array([0.3, 0.6])
    prior = Box(0.0, 0.5, 2)
    simulate = GaussianLocation(prior, sigma=0.001)
    result = _run(simulate, target, prior, [100.0, 1.0], schedule="adaptive")
    floor = result.generations[-1].tolerance
    assert result.status == "tolerance_floor"
    assert 8.0 < floor < 9.5 and len(result.generations) < 50
    assert f"{floor:.4g} %" in result.message and "above the final 1 %" in result.message
    assert "stopped falling" in result.message
    assert 0.45 < result.posterior_mean()[1] <= 0.5
    fixed = _run(simulate, target, prior, [100.0, 10.0, 1.0], max_evaluations=50_000)
    assert fixed.status == "budget_exhausted"


def test_adaptive_schedule_at_its_generation_cap_has_run_out_of_budget():
    target = np.array([0.3, 0.6])
    prior = Box(0.0, 0.5, 2)
    result = _run(
        GaussianLocation(prior, sigma=0.001),
        target,
        prior,
        [100.0, 1.0],
        schedule="adaptive",
        min_tolerance_decrease=1e-9,
        max_generations=12,
    )
    assert result.status == "budget_exhausted" and len(result.generations) == 12
    assert "cap of 12 generations" in result.message and "still falling" in result.message


# ------------------------------------------------------------------------ bookkeeping


def test_support_never_violated():
    """A narrow prior next to the target: many proposals leave it, none is simulated or kept."""
    prior = Box(0.2, 0.45, 2)
    sim = GaussianLocation(prior)  # asserts every simulated θ is inside the support
    result = _run(sim, [0.45, 0.45], prior, [100.0, 30.0, 10.0, 6.0], particles=100)
    assert result.status == "completed"
    assert sum(g.proposals_outside_support for g in result.generations) > 0
    for gen in result.generations:
        assert prior.in_support(gen.theta).all()


def test_first_passing_candidates_in_order_and_exact_count():
    """Generation 0 keeps the first P passing candidates whatever the batch size."""
    prior = Box(0.0, 1.0, 2)
    one, seven = GaussianLocation(), GaussianLocation()
    r1 = _run(one, [0.3, 0.6], prior, [30.0], particles=50, batch_size=1)
    r7 = _run(seven, [0.3, 0.6], prior, [30.0], particles=50, batch_size=7)
    np.testing.assert_array_equal(r1.theta, r7.theta)
    assert r1.evaluations == one.rows and r7.evaluations == seven.rows
    assert r1.generations[0].passed == 50  # batch 1: it stops at the 50th passing candidate
    assert r1.evaluations <= r7.evaluations < r1.evaluations + 7
    assert r7.generations[0].passed >= 50


def test_reproducible_from_seed():
    prior = Box(0.0, 1.0, 2)
    a = _run(GaussianLocation(), [0.3, 0.6], prior, [100.0, 20.0], seed=4)
    b = _run(GaussianLocation(), [0.3, 0.6], prior, [100.0, 20.0], seed=4)
    c = _run(GaussianLocation(), [0.3, 0.6], prior, [100.0, 20.0], seed=5)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.evaluations == b.evaluations
    assert not np.array_equal(a.theta, c.theta)


@pytest.mark.parametrize("budget", [200_000, 9_000])
def test_pruning_changes_nothing_but_the_simulated_components(budget):
    """Same particles, weights, ρ, counts and best set with and without pruning; fewer components.

    With budget 9 000 the run stops inside a generation, so the best-so-far set (which a cut at
    the tolerance alone would corrupt) is compared too.
    """
    prior, target, tols = Box(0.0, 1.0, 3), [0.3, 0.6, 0.45], [100.0, 30.0, 12.0, 6.0, 4.0]
    plain = GaussianLocation(prior)
    pruning = PruningGaussianLocation(prior)
    a = _run(plain, target, prior, tols, seed=2, max_evaluations=budget, batch_size=64)
    b = _run(pruning, target, prior, tols, seed=2, max_evaluations=budget, batch_size=64)
    assert a.status == b.status == ("completed" if budget > 10_000 else "budget_exhausted")
    assert len(a.generations) == len(b.generations) >= 2
    for ga, gb in zip(a.generations, b.generations, strict=True):
        np.testing.assert_array_equal(ga.theta, gb.theta)
        np.testing.assert_array_equal(ga.weights, gb.weights)
        np.testing.assert_array_equal(ga.rho, gb.rho)
        assert (ga.evaluations, ga.passed) == (gb.evaluations, gb.passed)
        assert ga.components_simulated == 3 * ga.evaluations
    np.testing.assert_array_equal(a.best_theta, b.best_theta)
    np.testing.assert_array_equal(a.best_rho, b.best_rho)
    assert a.evaluations == b.evaluations == plain.rows == pruning.rows
    assert sum(g.components_simulated for g in b.generations) <= pruning.components
    last = b.generations[-1]
    assert last.components_simulated < 2 * last.evaluations  # most candidates stop after x


def test_budget_stop_is_exact_with_best_particles():
    prior = Box(0.0, 1.0, 2)
    sim = GaussianLocation(prior)
    result = _run(sim, [0.3, 0.6], prior, [100.0, 1e-3], max_evaluations=5003, batch_size=500)
    assert result.status == "budget_exhausted"
    assert "budget" in result.message
    assert result.evaluations == sim.rows == 5003
    assert len(result.generations) == 1  # the last complete generation is the posterior
    np.testing.assert_array_equal(result.theta, result.generations[0].theta)
    assert np.all(np.diff(result.best_rho) >= 0)
    assert result.best_rho[0] <= result.generations[0].rho.min()


def test_budget_stop_in_generation_zero_returns_best_candidates():
    prior = Box(0.0, 1.0, 2)
    result = _run(GaussianLocation(), [0.3, 0.6], prior, [1e-4], particles=20, max_evaluations=900)
    assert result.status == "budget_exhausted" and not result.generations
    assert result.theta.shape == (20, 2) and result.weights.sum() == pytest.approx(1.0)
    assert np.all(np.diff(result.rho) >= 0)


@pytest.mark.parametrize(
    ("tolerances", "kwargs"),
    [([10.0, 20.0], {}), ([], {}), ([10.0], {"schedule": "median"}), ([10.0], {"particles": 1})],
)
def test_bad_arguments_refused(tolerances, kwargs):
    prior = Box(0.0, 1.0, 2)
    sim = GaussianLocation()
    with pytest.raises(ValueError, match="tolerance|particles"):
        _run(sim, [0.3, 0.6], prior, tolerances, **kwargs)
    assert sim.rows == 0


# ------------------------------------------------------------------------ unreachable targets


@pytest.mark.parametrize("target", [[1.2, 0.5], [0.0, 0.5], [0.3, -0.1], [0.5, 1.0]])
def test_target_outside_unit_interval_refused(target):
    prior = Box(0.0, 1.0, 2)
    sim = GaussianLocation()
    with pytest.raises(abc.UnreachableTargetError, match=r"\(0, 1\)"):
        _run(sim, target, prior, [100.0], pilot_size=64)
    assert sim.rows == 0


def test_target_outside_prior_range_refused_after_pilot():
    prior = Box(0.2, 0.6, 3)
    sim = GaussianLocation()
    with pytest.raises(abc.UnreachableTargetError, match="outside what the prior produces"):
        _run(sim, [0.9, 0.1, 0.9], prior, [100.0, 10.0], pilot_size=256, batch_size=100)
    assert sim.rows == 256


def test_too_anisotropic_target_refused():
    """η = θ_0 · (1, θ_1, θ_2): each component of (0.5, 0.3, 0.5) is reachable, the ratio not."""
    prior = Box(0.9, 1.1, 3)

    def scaled(theta, index):
        eta = np.column_stack([0.5 * theta[:, 0] - 0.3, theta[:, 1:] * theta[:, :1] * 0.5 - 0.3])
        return eta + 0.003 * _normal_noise(index, 3, 5)

    ok = _run(scaled, [0.21, 0.2, 0.2], prior, [100.0], pilot_size=256)
    assert ok.status == "completed"
    with pytest.raises(abc.UnreachableTargetError, match=r"log\(eta_0/eta_1\)"):
        _run(scaled, [0.25, 0.16, 0.25], prior, [100.0], pilot_size=256)


def test_reachability_leaves_out_rejected_pilot_candidates():
    rng = np.random.default_rng(0)
    pilot = rng.uniform(0.2, 0.6, size=(100, 3))
    pilot[::3] = np.nan  # structures the acceptance rule rejected
    abc.check_reachable(np.array([0.3, 0.4, 0.5]), pilot)
    with pytest.raises(abc.UnreachableTargetError, match="outside what the prior produces"):
        abc.check_reachable(np.array([0.9, 0.4, 0.5]), pilot)
    with pytest.raises(abc.UnreachableTargetError, match="no prior draw"):
        abc.check_reachable(np.array([0.3, 0.4, 0.5]), np.full((10, 3), np.nan))


def test_pilot_candidates_seed_generation_zero():
    prior = Box(0.0, 1.0, 2)
    sim = GaussianLocation()
    result = _run(sim, [0.3, 0.6], prior, [100.0, 20.0], pilot_size=300, particles=100)
    assert result.status == "completed"
    assert result.evaluations == sim.rows
    assert result.generations[0].evaluations == 300  # P passed within the pilot at τ = 100


# ------------------------------------------------------------------------ files and resume


def test_generation_files_roundtrip_and_resume(tmp_path):
    prior = Box(0.0, 1.0, 2)
    tols = [100.0, 40.0, 15.0, 8.0]
    full = _run(GaussianLocation(), [0.3, 0.6], prior, tols, out_dir=tmp_path / "a")
    gens = abc.read_generations(tmp_path / "a")
    assert [g.index for g in gens] == [0, 1, 2, 3]
    for disk, mem in zip(gens, full.generations, strict=True):
        np.testing.assert_array_equal(disk.theta, mem.theta)
        np.testing.assert_array_equal(disk.weights, mem.weights)
        assert disk.evaluations_total == mem.evaluations_total
    frame = pd.read_csv(tmp_path / "a" / "gen_002.csv")
    assert list(frame.columns) == ["theta_0", "theta_1", "weight", "rho"]
    meta = json.loads((tmp_path / "a" / "gen_002.json").read_text())
    assert meta["tolerance"] == 15.0 and meta["acceptance_rate"] == pytest.approx(
        meta["passed"] / meta["evaluations"]
    )
    assert meta["components_simulated"] == 2 * meta["evaluations"]
    del meta["components_simulated"]  # a file written before pruning existed reads back
    (tmp_path / "a" / "gen_002.json").write_text(json.dumps(meta))
    assert abc.read_generations(tmp_path / "a")[2].components_simulated == 2 * meta["evaluations"]

    for suffix in ("csv", "json"):  # an interrupted run: generations 2 and 3 lost
        (tmp_path / "a" / f"gen_002.{suffix}").unlink()
        (tmp_path / "a" / f"gen_003.{suffix}").unlink()
    sim = GaussianLocation()
    resumed = _run(sim, [0.3, 0.6], prior, tols, out_dir=tmp_path / "a")
    np.testing.assert_array_equal(resumed.theta, full.theta)
    np.testing.assert_array_equal(resumed.weights, full.weights)
    assert resumed.evaluations == full.evaluations
    assert sim.rows == full.evaluations - full.generations[1].evaluations_total

    other = GaussianLocation()  # other settings: the stale files are discarded
    fresh = _run(other, [0.3, 0.6], prior, [100.0, 50.0], out_dir=tmp_path / "a")
    assert other.rows == fresh.evaluations
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "gen_000.csv",
        "gen_000.json",
        "gen_001.csv",
        "gen_001.json",
    ]


def test_generations_table_shows_passes_per_evaluation(tmp_path):
    prior = Box(0.0, 1.0, 3)
    result = _run(PruningGaussianLocation(prior), [0.3, 0.6, 0.45], prior, [100.0, 12.0, 5.0])
    abc.write_design_outputs(result, tmp_path, {})
    table = abc.generations_table(pd.read_csv(tmp_path / "generations.csv"))
    assert list(table["generation"]) == [0, 1, 2]
    assert list(table.columns[-3:]) == ["mean theta_0", "mean theta_1", "mean theta_2"]
    passes = table["passes / evaluation"]
    assert passes.iloc[0] == 3.0 and 1.0 <= passes.iloc[-1] < 2.0
    expected = [g.components_simulated / g.evaluations for g in result.generations]
    np.testing.assert_allclose(passes, expected)


def test_write_design_outputs(tmp_path):
    prior = Box(0.0, 1.0, 4)
    result = _run(GaussianLocation(), [0.3, 0.6, 0.4, 0.5], prior, [100.0, 50.0], particles=40)
    abc.write_design_outputs(result, tmp_path, {"target": "toy"})
    post = pd.read_csv(tmp_path / "posterior.csv")
    assert list(post.columns)[:5] == ["a_x", "a_y", "a_z", "eps", "weight"]
    assert len(post) == 40 and post["weight"].sum() == pytest.approx(1.0)
    hat = json.loads((tmp_path / "theta_hat.json").read_text())
    np.testing.assert_allclose([hat[k] for k in abc.PARAM_NAMES], result.posterior_mean())
    assert hat["target"] == "toy" and hat["evaluations"] == result.evaluations
    assert hat["status"] == "completed" and hat["final_tolerance"] == 50.0
    assert set(hat["posterior_quantiles"]) == {"0.05", "0.25", "0.5", "0.75", "0.95"}
    summary = pd.read_csv(tmp_path / "generations.csv")
    assert list(summary["generation"]) == [0, 1]
    assert list(summary["evaluations"]) == [g.evaluations for g in result.generations]


# ------------------------------------------------------------------------ structure + CNN


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random-weight CNN for N = 64 structures (32³ block counts)."""
    torch = pytest.importorskip("torch")
    from spinodoid.surrogates.cnn import SpinodoidCNN, save_checkpoint

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "best.pt"
    save_checkpoint(path, SpinodoidCNN(input_size=32), {"size": 64})
    return path


def test_cnn_simulator_uses_one_fresh_seed_per_evaluation(checkpoint):
    import torch

    from spinodoid.structures.grf import generate_structure
    from spinodoid.surrogates.cnn import load_model, predict_eta_all_axes
    from spinodoid.surrogates.cnn_input import block_counts

    simulate = abc.cnn_simulator(checkpoint, "cpu", base_seed=9, chunk_size=2)
    theta = np.array([[0.1, 0.15, 0.2, 0.5]] * 3)
    eta = simulate(theta, np.array([0, 1, 7]))
    assert eta.shape == (3, 3) and eta.dtype == np.float64
    assert not np.allclose(eta[0], eta[1], rtol=0, atol=1e-9)  # same θ, new seed, new structure
    np.testing.assert_array_equal(eta, simulate(theta, np.array([0, 1, 7])))
    model, _ = load_model(checkpoint, "cpu")
    seed = int(abc.evaluation_seeds(9, np.array([7]))[0])
    counts = block_counts(torch.from_numpy(generate_structure(theta[2], seed, 64)[None]))
    direct = predict_eta_all_axes(model, counts).double().numpy()
    np.testing.assert_allclose(eta[2:], direct, rtol=1e-6)
    kept = []

    def prune(partial: np.ndarray) -> np.ndarray:  # row-wise: keep only candidate 1
        kept.append(partial.copy())
        return np.isclose(partial[:, 0], eta[1, 0], rtol=1e-5, atol=0)

    x_only = simulate(theta, np.array([0, 1, 7]), prune=prune)
    np.testing.assert_allclose(x_only[:, 0], eta[:, 0], rtol=1e-6)
    np.testing.assert_allclose(x_only[1], eta[1], rtol=1e-6)
    assert np.isnan(x_only[[0, 2], 1:]).all()
    assert len(kept) == 2  # after x and after y, for the whole call (not per chunk of 2)
    assert np.isnan(kept[0][:, 1:]).all() and np.isnan(kept[1][[0, 2], 1:]).all()


def test_run_design_writes_outputs_and_is_reproducible(checkpoint, tmp_path):
    from spinodoid.structures.prior import in_support, sample_prior

    seed = 3
    pilot_theta = sample_prior(np.random.default_rng(seed), 8)
    pilot_eta = abc.cnn_simulator(checkpoint, "cpu", seed)(pilot_theta, np.arange(8))
    target = np.median(pilot_eta, axis=0)  # within what this random network produces
    final = float(np.quantile(abc.discrepancy(pilot_eta, target), 0.75))
    kwargs = dict(
        particles=4,
        log10_tolerances=[2.0, math.log10(final)],
        batch_size=8,
        max_evaluations=200,
        device="cpu",
        seed=seed,
        name="toy",
        pilot_size=8,
        progress=False,
    )
    first = abc.run_design(checkpoint, target, tmp_path / "a", **kwargs)
    second = abc.run_design(checkpoint, target, tmp_path / "b", **kwargs)
    assert first.status == "completed"
    np.testing.assert_array_equal(first.theta, second.theta)
    assert in_support(first.theta).all()
    post = pd.read_csv(tmp_path / "a" / "posterior.csv")
    assert len(post) == 4 and list(post.columns[:5]) == [*abc.PARAM_NAMES, "weight"]
    hat = json.loads((tmp_path / "a" / "theta_hat.json").read_text())
    assert hat["target"] == "toy" and hat["seed"] == seed
    assert hat["evaluations"] == first.evaluations
    assert hat["final_tolerance"] == pytest.approx(final) and np.all(first.rho <= final)
    assert (tmp_path / "a" / "generations" / "gen_001.json").exists()
    with pytest.raises(abc.UnreachableTargetError):
        abc.run_design(checkpoint, [0.9, 0.1, 0.9], tmp_path / "c", **kwargs)


@pytest.mark.cuda
def test_cnn_simulator_cuda_matches_cpu(checkpoint):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from spinodoid.structures.prior import sample_prior

    theta = sample_prior(np.random.default_rng(0), 8)
    cpu = abc.cnn_simulator(checkpoint, "cpu", 1)(theta, np.arange(8))
    gpu = abc.cnn_simulator(checkpoint, "cuda", 1)(theta, np.arange(8))
    np.testing.assert_allclose(gpu, cpu, atol=2e-3)
    every_other = abc.cnn_simulator(checkpoint, "cuda", 1)(
        theta, np.arange(8), prune=lambda eta: np.arange(len(eta)) % 2 == 0
    )
    np.testing.assert_allclose(every_other[::2], cpu[::2], atol=2e-3)
    assert np.isnan(every_other[1::2, 1:]).all()


def test_design_command_budget_stop(checkpoint, tmp_path, capsys):
    import argparse

    from spinodoid._cli import design

    parser = argparse.ArgumentParser()
    design.register(parser.add_subparsers())
    args = parser.parse_args(
        ["design", "--model", str(checkpoint), "--target", "0.5", "0.5", "0.5", "--particles",
         "4", "--log10-tolerances", "-3", "--max-evaluations", "8", "--device", "cpu",
         "--pilot-size", "0", "--quiet", "-o", str(tmp_path)]
    )  # fmt: skip
    assert args.func(args) == design.EXIT_BUDGET
    out, err = capsys.readouterr()
    assert json.loads(out)["status"] == "budget_exhausted" and "budget of 8" in err
    assert len(pd.read_csv(tmp_path / "posterior.csv")) == 4
    assert json.loads((tmp_path / "theta_hat.json").read_text())["evaluations"] == 8


def test_reference_eta_decides_reachability_instead_of_the_cnn(checkpoint, tmp_path):
    """With solver η of prior draws given, a target the (random) CNN never predicts is still
    designed (no pilot is run), and one outside the reference range is refused up front."""
    reference = np.array([[0.3, 0.4, 0.5], [0.5, 0.45, 0.7], [0.45, 0.6, 0.4], [0.35, 0.3, 0.6]])
    kwargs = dict(
        particles=4,
        log10_tolerances=[2.0],
        batch_size=8,
        max_evaluations=64,
        device="cpu",
        seed=1,
        name="ref",
        reference_eta=reference,
        progress=False,
    )
    result = abc.run_design(checkpoint, [0.4, 0.5, 0.6], tmp_path / "ok", **kwargs)
    assert result.status == "completed"
    with pytest.raises(abc.UnreachableTargetError, match="outside what the prior produces"):
        abc.run_design(checkpoint, [0.9, 0.1, 0.9], tmp_path / "no", **kwargs)
    assert result.evaluations == result.generations[0].evaluations


# ------------------------------------------------------------------ the acceptance rule in ABC


class RefusingGaussianLocation(GaussianLocation):
    """:class:`GaussianLocation` that refuses (all-NaN row) every candidate with θ_0 > 0.6,
    as the CNN simulator refuses a structure whose phases do not percolate."""

    def __init__(self, prior: Box | None = None) -> None:
        super().__init__(prior)
        self.refused = 0

    def __call__(self, theta: np.ndarray, index: np.ndarray) -> np.ndarray:
        eta = super().__call__(theta, index)
        refuse = theta[:, 0] > 0.6
        self.refused += int(refuse.sum())
        eta[refuse] = np.nan
        return eta


def test_refused_candidates_are_counted_and_never_accepted():
    prior = Box(0.0, 1.0, 2)
    simulate = RefusingGaussianLocation(prior)
    target = np.array([0.58, 0.5])  # close to the refused region: many candidates land there
    result = _run(simulate, target, prior, [40.0, 20.0, 10.0], particles=100)
    assert result.status == "completed"
    for gen in result.generations:
        assert (gen.theta[:, 0] <= 0.6).all()
        assert np.isfinite(gen.rho).all()
    assert sum(gen.rejected for gen in result.generations) == simulate.refused > 0
    assert result.evaluations == simulate.rows
    components = sum(gen.components_simulated for gen in result.generations)
    assert components == 2 * (simulate.rows - simulate.refused)


def test_cnn_simulator_refuses_structures_the_dataset_would_reject(checkpoint):
    import torch

    from spinodoid.structures.connectivity import is_bicontinuous
    from spinodoid.structures.grf import generate_structure
    from spinodoid.surrogates.cnn import load_model, predict_eta_all_axes
    from spinodoid.surrogates.cnn_input import block_counts

    theta = np.array([[0.05, 0.05, 0.3, 0.2]] * 8)  # percolates for some seeds only
    index = np.arange(8)
    seeds = abc.evaluation_seeds(9, index)
    structures = np.stack([generate_structure(theta[0], int(s), 64) for s in seeds])
    ok = np.array([is_bicontinuous(s) for s in structures])
    assert 0 < ok.sum() < 8
    eta = abc.cnn_simulator(checkpoint, "cpu", base_seed=9, chunk_size=3)(theta, index)
    assert np.isnan(eta[~ok]).all()
    model, _ = load_model(checkpoint, "cpu")
    direct = predict_eta_all_axes(model, torch.as_tensor(block_counts(structures[ok])))
    np.testing.assert_allclose(eta[ok], direct.double().numpy(), rtol=1e-6)


def test_a_design_stopped_inside_generation_0_writes_a_readable_generations_table(tmp_path):
    import pandas as pd

    prior = Box(0.0, 1.0, 2)
    result = _run(GaussianLocation(prior), np.array([0.5, 0.5]), prior, [1e-3], max_evaluations=64)
    assert result.status == "budget_exhausted" and not result.generations
    abc.write_design_outputs(result, tmp_path)
    table = pd.read_csv(tmp_path / "generations.csv")
    assert len(table) == 0 and {"generation", "rejected", "mean_theta_0"} <= set(table.columns)
