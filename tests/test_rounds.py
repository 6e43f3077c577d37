"""Tests of spinodoid.rounds: posterior draws, round solves (resumable), the refitted emulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from spinodoid.rounds import (
    fit_round_emulator,
    read_round_solves,
    round_seeds,
    round_theta,
    solve_round,
    write_round_solves,
)
from spinodoid.structures.prior import sample_prior
from spinodoid.surrogates.emulator import direction_features
from spinodoid.validation import ResumableRows
from tests.stand_ins import SOMETIMES_DISCONNECTED, KilledAfter, porosity_solver


def test_round_theta_draws_by_weight_without_replacement_when_it_can():
    theta = np.arange(40, dtype=np.float64).reshape(10, 4)
    weights = np.array([0.0, 0.0, 5, 1, 1, 1, 1, 1, 1, 1])
    drawn = round_theta(theta, weights, 6, seed=3)
    assert len(np.unique(drawn[:, 0])) == 6  # distinct particles
    assert not np.isin(drawn[:, 0], [0.0, 4.0]).any()  # zero weight: never drawn
    np.testing.assert_array_equal(drawn, round_theta(theta, weights, 6, seed=3))
    counts = pd.Series(round_theta(theta, weights, 200, seed=1)[:, 0]).value_counts()
    assert set(counts.index) <= set(theta[2:, 0])  # more than there are: with replacement
    assert counts[8.0] > 2 * counts[12.0]  # the heavy particle drawn most


def test_round_seeds_are_pure_and_differ_by_round_and_target():
    first = round_seeds(7, "case1", 1, 5)
    np.testing.assert_array_equal(first, round_seeds(7, "case1", 1, 5))
    assert not np.intersect1d(first, round_seeds(7, "case1", 2, 5)).size
    assert not np.intersect1d(first, round_seeds(7, "case2", 1, 5)).size
    assert first.dtype == np.int64 and (first >= 0).all()


def test_a_killed_round_resumes_from_the_rows_it_kept(tmp_path):
    theta = np.tile(SOMETIMES_DISCONNECTED, (8, 1))
    seeds = np.arange(8)
    path, signature = tmp_path / "rows.json", {"theta": theta.tolist(), "size": 24}
    with pytest.raises(KeyboardInterrupt):
        solve_round(theta, seeds, 24, KilledAfter(4), ResumableRows(path, signature))
    kept = ResumableRows(path, signature).rows
    assert 0 < len(kept) < 8
    resumed = KilledAfter(100)
    frame = solve_round(theta, seeds, 24, resumed, ResumableRows(path, signature))
    fresh = solve_round(theta, seeds, 24, porosity_solver)
    accepted_later = int(fresh["accepted"].iloc[len(kept) :].sum())
    assert resumed.solved == 3 * accepted_later  # only the structures not yet kept
    pd.testing.assert_frame_equal(
        frame.drop(columns="solver_seconds"), fresh.drop(columns="solver_seconds")
    )
    assert 0 < fresh["accepted"].sum() < 8  # both kinds of row are in the test
    assert fresh[~fresh["accepted"]]["eta_solver_x"].isna().all()


def test_round_solves_roundtrip_keeps_only_accepted_structures(tmp_path):
    theta = np.tile(SOMETIMES_DISCONNECTED, (6, 1))
    frame = solve_round(theta, np.arange(6), 24, porosity_solver)
    write_round_solves(frame, tmp_path / "solves.csv")
    read_theta, read_eta = read_round_solves([tmp_path / "solves.csv"])
    accepted = frame[frame["accepted"]]
    np.testing.assert_array_equal(read_theta, theta[: len(accepted)])
    np.testing.assert_array_equal(read_eta[:, 2], accepted["eta_solver_z"].to_numpy())
    empty_theta, empty_eta = read_round_solves([])
    assert empty_theta.shape == (0, 4) and empty_eta.shape == (0, 3)


def _logit_eta(theta: np.ndarray) -> np.ndarray:
    f = direction_features(theta)
    return (0.9 * f[..., 0] - 0.35 * f[..., 1] + 3.0 * f[..., 3] - 2.3).T


def test_round_solves_sharpen_the_emulator_where_they_are():
    rng = np.random.default_rng(0)
    prior = sample_prior(rng, 40)
    noise = 0.05
    prior_eta = expit(_logit_eta(prior) + noise * rng.standard_normal((40, 3)))
    centre = np.array([0.09, 0.13, 0.25, 0.66])
    local = centre * (1 + 0.05 * rng.standard_normal((24, 4)))
    local_eta = expit(_logit_eta(local) + noise * rng.standard_normal((24, 3)))
    before = fit_round_emulator(prior, prior_eta, local[:0], local_eta[:0], meta={"round": 0})
    after = fit_round_emulator(prior, prior_eta, local, local_eta, meta={"round": 1})
    assert after.meta["round_structures"] == 24 and after.meta["structures"] == 64
    probe = centre * (1 + 0.03 * rng.standard_normal((50, 4)))
    truth = _logit_eta(probe)
    error_before = np.abs(before.predict_logit(probe)[0] - truth).mean()
    error_after = np.abs(after.predict_logit(probe)[0] - truth).mean()
    assert error_after < 0.7 * error_before
