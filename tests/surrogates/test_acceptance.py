"""Tests of spinodoid.surrogates.acceptance: P(accepted | θ) against the sampler's measured
acceptance, and its place in the emulator file and the emulator simulator."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy.special import expit

from spinodoid.abc.simulators.emulator import emulator_simulator, seed_accepted
from spinodoid.formats.shards import Shard, read_candidates, write_shard_h5
from spinodoid.structures.connectivity import is_bicontinuous
from spinodoid.structures.grf import generate_structure
from spinodoid.structures.prior import sample_prior
from spinodoid.surrogates import emulator as em
from spinodoid.surrogates.acceptance import fit_acceptance

SIZE = 32  # small structures reject often enough (about 9 % of prior draws) to learn from


@pytest.fixture(scope="module")
def sampler_candidates() -> tuple[np.ndarray, np.ndarray]:
    """1500 prior draws at N = 32 and whether the sampler's acceptance rule took each."""
    theta = sample_prior(np.random.default_rng(11), 1500)
    accepted = np.array(
        [is_bicontinuous(generate_structure(t, k, SIZE)) for k, t in enumerate(theta)]
    )
    return theta, accepted


def _log_loss(probability: np.ndarray, accepted: np.ndarray) -> float:
    p = np.clip(probability, 1e-9, 1 - 1e-9)
    return float(-np.mean(np.where(accepted, np.log(p), np.log1p(-p))))


def test_acceptance_matches_the_samplers_on_held_out_theta(sampler_candidates):
    theta, accepted = sampler_candidates
    model = fit_acceptance(theta[:1000], accepted[:1000])
    held_theta, held = theta[1000:], accepted[1000:]
    p = model.probability(held_theta)
    assert 0.02 < 1 - held.mean() < 0.3  # rejections to learn from, on both sides
    constant = np.full(len(held), accepted[:1000].mean())
    assert _log_loss(p, held) < 0.85 * _log_loss(constant, held)
    # calibration: in each third of the predicted probability, the measured acceptance agrees
    # within three binomial standard errors
    for part in np.array_split(np.argsort(p), 3):
        expected, measured = p[part].mean(), held[part].mean()
        error = np.sqrt(expected * (1 - expected) / len(part))
        assert abs(measured - expected) < 3 * error + 0.01, (expected, measured)
    assert p[np.argsort(p)[:100]].mean() < 0.85 < p[np.argsort(p)[-100:]].mean()


def test_no_rejection_gives_a_constant_below_one():
    theta = sample_prior(np.random.default_rng(0), 20)
    model = fit_acceptance(theta, np.ones(20, dtype=bool))
    np.testing.assert_allclose(model.probability(theta), 20.5 / 21)
    with pytest.raises(ValueError, match="matching"):
        fit_acceptance(theta, np.ones(19, dtype=bool))


def test_read_candidates_from_shards(tmp_path):
    theta = sample_prior(np.random.default_rng(1), 5)
    shard = Shard(
        index=0,
        size=8,
        base_seed=0,
        structures=np.zeros((3, 8, 8, 8), np.uint8),
        theta=theta[:3],
        seed=np.arange(3),
        rejected_theta=theta[3:],
        rejected_reason=np.array(["pore", "solid"]),
    )
    write_shard_h5(shard, tmp_path / "shard_00000.h5")
    read_theta, accepted = read_candidates([tmp_path / "shard_00000.h5"])
    np.testing.assert_array_equal(read_theta, theta)
    assert accepted.tolist() == [True, True, True, False, False]


@pytest.fixture(scope="module")
def emulator_with_acceptance(sampler_candidates) -> em.Emulator:
    rng = np.random.default_rng(0)
    theta = sample_prior(rng, 40)
    f = em.direction_features(theta)
    eta = expit((0.9 * f[..., 0] + 3.0 * f[..., 3] - 1.0).T + 0.05 * rng.standard_normal((40, 3)))
    return em.fit_emulator(theta, eta, restarts=0, acceptance=fit_acceptance(*sampler_candidates))


def test_the_emulator_file_keeps_the_acceptance_model(emulator_with_acceptance, tmp_path):
    em.save_emulator(emulator_with_acceptance, tmp_path / "e.npz")
    loaded = em.load_emulator(tmp_path / "e.npz")
    theta = sample_prior(np.random.default_rng(5), 50)
    np.testing.assert_array_equal(
        loaded.acceptance.probability(theta), emulator_with_acceptance.acceptance.probability(theta)
    )
    assert loaded.acceptance.meta["candidates"] == 1500
    # a format-1 file (before the acceptance model) still loads, accepting every candidate
    with np.load(tmp_path / "e.npz") as data:
        arrays = {k: data[k] for k in data.files if not k.startswith("acceptance")}
    arrays["meta"] = np.array(json.dumps({**loaded.meta, "format": 1}))
    np.savez(tmp_path / "old.npz", **arrays)
    assert em.load_emulator(tmp_path / "old.npz").acceptance is None


def test_the_simulator_rejects_candidates_at_the_models_rate(emulator_with_acceptance):
    model = emulator_with_acceptance.acceptance
    theta = sample_prior(np.random.default_rng(8), 4000)
    p = model.probability(theta)
    low = np.argsort(p)[:400]
    theta_low = np.repeat(theta[low[:1]], 8_000, axis=0)
    eta = emulator_simulator(emulator_with_acceptance, base_seed=3)(theta_low, np.arange(8_000))
    rejected = np.isnan(eta).all(axis=1)
    assert np.isnan(eta[~rejected]).sum() == 0  # a candidate is rejected whole or not at all
    expected = 1 - p[low[0]]
    assert abs(rejected.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / 8_000)
    without = dataclasses.replace(emulator_with_acceptance, acceptance=None)
    plain = emulator_simulator(without, base_seed=3)(theta_low, np.arange(8_000))
    # the same draws otherwise (to the last bits of the GP's blocked matrix product, whose
    # blocks differ when rejected rows are left out: measured 2e-12 relative)
    np.testing.assert_allclose(plain[~rejected], eta[~rejected], rtol=1e-9)
    seeds = np.arange(10)
    assert seed_accepted(seeds, np.ones(10)).all() and not seed_accepted(seeds, np.zeros(10)).any()
