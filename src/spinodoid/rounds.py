"""Sequential design rounds: the emulator refitted where each target's posterior is.

The first emulator (rule ``emulate``) is fitted on the dataset's prior draws, which spend the
solver all over the prior. A round spends it where the answer is: for one target, round ``r``

1. designs with the emulator of round ``r − 1`` (round 0: the dataset's emulator);
2. draws ``K`` particles of that posterior by weight (:func:`round_theta`) and gives each a
   fresh structure seed (stream ``"round"`` of :func:`spinodoid.validation.derived_seeds`);
3. generates each structure under the dataset's acceptance rule and solves the accepted ones
   along x, y and z (:func:`solve_round`, one row per candidate, resumable);
4. refits the emulator on the dataset's train and val structures plus every accepted solve of
   rounds 1 … r of this target (:func:`fit_round_emulator`), and its P(accepted | θ) on the
   sampler's candidates plus every round candidate (:mod:`spinodoid.surrogates.acceptance`).

The design of the last round's emulator is the target's design. Rounds are per target, so a new
target plans only its own rounds, and all targets share the prior draws (the dataset). In the
workflow each step is a rule with ``{target}`` and ``{round}`` wildcards
(``workflow/rules/rounds.smk``).

File format of a round's solves (``results/rounds/{target}/round{r}/solves.csv``, written by
:func:`write_round_solves`, read by :func:`read_round_solves`): one row per candidate, columns
``a_x, a_y, a_z, eps, seed, porosity, eta_solver_x, eta_solver_y, eta_solver_z,
solver_seconds, accepted`` (η NaN where the acceptance rule rejected the structure).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from spinodoid import AXES
from spinodoid.abc.results import PARAM_NAMES
from spinodoid.formats.atomic import write_text_atomic
from spinodoid.formats.shards import read_candidates
from spinodoid.surrogates.acceptance import AcceptanceModel, fit_acceptance
from spinodoid.surrogates.emulator import Emulator, fit_emulator, training_subset
from spinodoid.validation import EtaSolver, ResumableRows, derived_seeds, measure_structure

__all__ = [
    "fit_round_acceptance",
    "fit_round_emulator",
    "read_round_candidates",
    "read_round_solves",
    "round_seeds",
    "round_theta",
    "solve_round",
    "write_round_solves",
]

log = logging.getLogger(__name__)

ETA_COLUMNS = tuple(f"eta_solver_{axis}" for axis in AXES)


def round_seeds(base_seed: int, target_name: str, round_index: int, count: int) -> np.ndarray:
    """Structure seeds of one target's round, int64 (count,): a pure function of its args."""
    return derived_seeds(base_seed, f"{target_name}/round{int(round_index)}", "round", count)


def round_theta(theta: np.ndarray, weights: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` particles of a weighted posterior, drawn by weight, float64 (count, 4).

    Without replacement while the posterior has at least ``count`` particles of nonzero weight
    (distinct θ teach the emulator more than repeated ones), with replacement otherwise.
    """
    weights = np.asarray(weights, dtype=np.float64)
    weights = weights / weights.sum()
    replace = int(np.count_nonzero(weights)) < count
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x0D5A]))
    index = rng.choice(len(weights), size=count, replace=replace, p=weights)
    return np.asarray(theta, dtype=np.float64)[np.sort(index)]


def solve_round(
    theta: np.ndarray,
    seeds: Sequence[int],
    size: int,
    solve: EtaSolver,
    rows: ResumableRows | None = None,
) -> pd.DataFrame:
    """One structure per (θ_k, seed_k), solved along x, y and z when it passes the acceptance
    rule (module docstring, file format).

    Args:
        theta: float (K, 4).
        seeds: K structure seeds.
        size: structure side N.
        solve: the solver (:func:`spinodoid.validation.make_solver`).
        rows: where finished rows are kept; rows already there are reused, not recomputed.

    Returns:
        One row per candidate, in order.
    """
    theta = np.asarray(theta, dtype=np.float64).reshape(-1, 4)
    if len(theta) != len(seeds):
        raise ValueError(f"need one seed per theta, got {len(seeds)} for {len(theta)}")
    done = [] if rows is None else list(rows.rows)
    for k in tqdm(range(len(done), len(theta)), desc="round", unit="structure"):
        row = dict(zip(PARAM_NAMES, map(float, theta[k]), strict=True))
        row.update(measure_structure(theta[k], int(seeds[k]), size, solve, None, None))
        if rows is not None:
            rows.add(row)
        done.append(row)
    return pd.DataFrame(done)


def write_round_solves(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a round's rows (module docstring, file format) atomically."""
    write_text_atomic(path, frame.to_csv(index=False, float_format="%.17g"))


def read_round_solves(paths: Sequence[str | os.PathLike[str]]) -> tuple[np.ndarray, np.ndarray]:
    """θ float64 (n, 4) and solver η (n, 3) of the accepted structures of round files."""
    frames = [pd.read_csv(path) for path in paths]
    if not frames:
        return np.empty((0, 4)), np.empty((0, 3))
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[frame["accepted"].astype(bool)]
    return (
        frame[list(PARAM_NAMES)].to_numpy(dtype=np.float64),
        frame[list(ETA_COLUMNS)].to_numpy(dtype=np.float64),
    )


def read_round_candidates(
    paths: Sequence[str | os.PathLike[str]],
) -> tuple[np.ndarray, np.ndarray]:
    """θ float64 (n, 4) of every candidate of round files and whether it was accepted (n,)."""
    frames = [pd.read_csv(path) for path in paths]
    if not frames:
        return np.empty((0, 4)), np.empty(0, dtype=bool)
    frame = pd.concat(frames, ignore_index=True)
    return frame[list(PARAM_NAMES)].to_numpy(dtype=np.float64), frame["accepted"].to_numpy(bool)


def fit_round_acceptance(
    shard_paths: Sequence[str | os.PathLike[str]], round_paths: Sequence[str | os.PathLike[str]]
) -> AcceptanceModel:
    """P(accepted | θ) on every candidate the sampler tried (shards) and every round candidate."""
    sampler_theta, sampler_accepted = read_candidates(shard_paths)
    round_theta_, round_accepted = read_round_candidates(round_paths)
    return fit_acceptance(
        np.concatenate([sampler_theta, round_theta_]),
        np.concatenate([sampler_accepted, round_accepted]),
    )


def fit_round_emulator(
    dataset_theta: np.ndarray,
    dataset_eta: np.ndarray,
    solved_theta: np.ndarray,
    solved_eta: np.ndarray,
    *,
    seed: int = 0,
    meta: Mapping[str, Any] | None = None,
    acceptance: AcceptanceModel | None = None,
) -> Emulator:
    """The emulator on the dataset's train + val structures (at most
    :data:`~spinodoid.surrogates.emulator.MAX_TRAINING_STRUCTURES` of them) and every round
    solve so far (``solved_theta`` (m, 4), ``solved_eta`` (m, 3): all of them, they are where
    the design is)."""
    theta, eta = training_subset(dataset_theta, dataset_eta)
    theta = np.concatenate([theta, np.asarray(solved_theta, dtype=np.float64).reshape(-1, 4)])
    eta = np.concatenate([eta, np.asarray(solved_eta, dtype=np.float64).reshape(-1, 3)])
    info = {"round_structures": int(len(solved_eta)), **dict(meta or {})}
    return fit_emulator(theta, eta, seed=seed, meta=info, acceptance=acceptance)
