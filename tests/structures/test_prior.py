"""Tests of spinodoid.structures.prior: support, marginals (KS tests, fixed seed), density."""

import numpy as np
import pytest
from scipy import stats

from spinodoid.structures.prior import in_support, prior_density, sample_prior

N_SAMPLES = 20000
# Significance level of the distribution tests; several run on one fixed seed, so keep it small.
ALPHA = 0.001


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    return sample_prior(np.random.default_rng(0), N_SAMPLES)


def test_samples_lie_inside_the_support(samples):
    assert samples.shape == (N_SAMPLES, 4)
    assert in_support(samples).all()


def test_marginals_follow_the_paper(samples):
    a = np.sort(samples[:, :3], axis=1)
    beta = a[:, 2] / a[:, 0]
    alpha = a[:, 1] / a[:, 0]
    mean_a = a.mean(axis=1)
    assert stats.kstest(beta, stats.uniform(1, 2).cdf).pvalue > ALPHA
    assert stats.kstest((alpha - 1) / (beta - 1), stats.uniform(0, 1).cdf).pvalue > ALPHA
    assert stats.kstest(mean_a, stats.uniform(0.05, 0.15).cdf).pvalue > ALPHA
    assert stats.kstest(samples[:, 3], stats.uniform(0.3, 0.55).cdf).pvalue > ALPHA


def test_largest_length_scale_is_assigned_to_each_axis_equally_often(samples):
    counts = np.bincount(np.argmax(samples[:, :3], axis=1), minlength=3)
    assert stats.chisquare(counts).pvalue > ALPHA


def test_support_rejects_each_violation():
    inside = np.array([0.1, 0.15, 0.2, 0.5])
    assert in_support(inside)
    for bad in (
        [0.05, 0.1, 0.2, 0.5],
        [0.01, 0.02, 0.03, 0.5],
        [0.1, 0.15, 0.2, 0.9],
        [0.1, 0.15, 0.2, 0.2],
        [-0.1, 0.15, 0.2, 0.5],
        [0.25, 0.25, 0.3, 0.5],
    ):
        assert not in_support(np.array(bad)), bad
    assert prior_density(np.array([0.05, 0.1, 0.2, 0.5])) == 0.0


def test_density_matches_the_sample_frequency_in_a_box(samples):
    """P(θ in box) from samples equals the box volume times the mean density over the box."""
    rng = np.random.default_rng(1)
    low = np.array([0.08, 0.12, 0.16, 0.4])
    high = np.array([0.11, 0.16, 0.22, 0.6])
    uniform = rng.uniform(low, high, size=(200000, 4))
    expected = np.prod(high - low) * prior_density(uniform).mean()
    big = sample_prior(np.random.default_rng(2), 400000)
    observed = np.all((big >= low) & (big <= high), axis=1).mean()
    assert observed == pytest.approx(expected, rel=0.1)


def test_density_is_invariant_to_permuting_the_length_scales():
    theta = np.array([0.1, 0.15, 0.2, 0.5])
    permuted = theta[[2, 0, 1, 3]]
    assert prior_density(theta) == pytest.approx(prior_density(permuted))
