"""Batched ABC population Monte Carlo for inverse design (SPEC §5; paper Algorithm 1).

The sampler follows Beaumont, Cornuet, Marin & Robert, *Biometrika* 96 (2009) as the paper
adapts it. Generation 0 samples θ from the prior until ``P`` particles satisfy ρ ≤ τ_1.
Generation t ≥ 1 draws a particle of generation t − 1 by weight, perturbs it with
``N(0, diag(ν²))``, ν_i = √2 · (weighted) std of parameter i (Algorithm 1; Beaumont's
"twice the variance" is the same), redraws proposals outside the prior's support without
simulating them, and accepts candidates with ρ ≤ τ_t. The weights use Beaumont's product
Gaussian kernel,

    w_p ∝ π(θ_p) / Σ_q w_q Π_i φ((θ_p,i − θ_q,i) / ν_i) / ν_i,

the paper's printed *sum* over i being read as a typo (SPEC §5). The discrepancy is eq. 10,
ρ = 100 · mean_i |η'_i − η_i| / η_i (percent).

Batching and bookkeeping
------------------------
Candidates are simulated ``batch_size`` at a time (structure generation and one CNN pass per
batch). Within a batch, the candidates that pass are accepted **in candidate order** until the
population is full; the passing candidates after that are discarded. Every simulated candidate
counts as one evaluation, discarded ones included, so ``evaluations`` is exactly the number of
rows the simulator was given. The last batch before the evaluation budget is cut to the budget,
so a run never simulates more than ``max_evaluations`` candidates. Proposals outside the prior's
support are never simulated and are counted apart (``proposals_outside_support``). Candidate
``k`` of the run (0-based, counted over all generations and the pilot) is simulated with
evaluation index ``k``; :func:`cnn_simulator` turns it into a structure seed with
:func:`evaluation_seeds`, so a run is a pure function of its seed.

Pruned evaluations
------------------
ρ is a mean of non-negative terms, so the components simulated so far bound it from below:
ρ ≥ 100/k · Σ_(i simulated) |η'_i − η_i| / η_i (:func:`discrepancy_lower_bound`). A simulator
that accepts a keyword ``prune`` (as :func:`cnn_simulator` does: one CNN pass per axis) is
given ``prune(eta)``, a row-wise test on η' so far (NaN where not simulated) that is False once
the bound exceeds the cut ``max(τ_t, ρ of the P-th best candidate so far)``; the simulator then
skips the remaining components of that candidate and returns NaN for them. Such a candidate
could neither pass τ_t nor enter the best-so-far set, so the run (particles, weights, ρ,
evaluation counts, best particles) is the same as without pruning; only the number of
simulated components (``components_simulated``) drops. It still counts as one evaluation.
"The same" holds bit for bit for a simulator whose η' of a candidate does not depend on the
other rows of its call. The CNN's float32 forward passes do, in the last bits, because pruning
changes which structures share a pass: on the demo model, a 9-generation run gave the same
particles and weights in every generation and ρ within 6e-6 % of the unpruned run.

Unreachable targets
-------------------
A target component outside (0, 1) is refused with :class:`UnreachableTargetError`. Then a pilot
of ``pilot_size`` prior draws is simulated (they are also the first candidates of
generation 0, so no evaluation is wasted): a target is refused when one of its features
``logit η_i`` or ``log(η_i / η_j)`` lies outside the pilot's range widened by
``reachability_margin`` of that range on each side. This is a necessary condition only: a
target that passes it but that the simulator cannot match to the final tolerance stops at
``max_evaluations`` with status ``"budget_exhausted"``, a warning, and the best particles so far
(the last complete generation, or in generation 0 the ``P`` lowest-ρ candidates). The run
never loops without end.

Generation files (resumable; read by the report's posterior-marginal figures)
-------------------------------------------------------------------------------
With ``out_dir`` set, each completed generation ``t`` is written to ``out_dir`` as

- ``gen_{t:03d}.csv``: one row per particle, columns ``<param names>`` (``a_x, a_y, a_z, eps``
  for the spinodoid prior), ``weight`` (normalised, sums to 1) and ``rho`` (eq. 10, percent);
  floats written with 17 significant digits so they read back bit for bit.
- ``gen_{t:03d}.json``: ``generation``, ``tolerance`` (percent), ``evaluations`` (this
  generation), ``evaluations_total`` (cumulative, pilot included), ``passed`` (candidates with
  ρ ≤ τ), ``acceptance_rate`` (= passed / evaluations), ``components_simulated`` (η
  components computed, k per evaluation unless pruned), ``proposals_outside_support``,
  ``wall_time_s`` (this generation), ``wall_time_total_s``, ``nu`` (proposal std per
  parameter, null for generation 0), ``ess`` (1 / Σ w²), ``param_names``, ``signature`` (the
  run settings) and ``rng_state`` (the generator state after the generation).

The JSON is written after the CSV and marks the generation complete. A run given the same
``out_dir`` and the same settings (signature) restarts after the last complete generation and
gives the same result as an uninterrupted run; files of a run with other settings are removed.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import os
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from tqdm.auto import tqdm

__all__ = [
    "ABCResult",
    "Generation",
    "PARAM_NAMES",
    "Simulator",
    "UnreachableTargetError",
    "abc_pmc",
    "check_reachable",
    "cnn_simulator",
    "design_seed",
    "discrepancy",
    "discrepancy_lower_bound",
    "evaluation_seeds",
    "generations_table",
    "pmc_weights",
    "read_generations",
    "run_design",
    "weighted_quantiles",
    "write_design_outputs",
]

logger = logging.getLogger(__name__)

PARAM_NAMES: tuple[str, str, str, str] = ("a_x", "a_y", "a_z", "eps")

Simulator = Callable[..., np.ndarray]
"""``simulate(theta (B, d) float64, evaluation_index (B,) int64) -> eta (B, k) float64``,
optionally with a keyword ``prune`` (module docstring, "Pruned evaluations")."""

Status = Literal["completed", "budget_exhausted"]

_MASK64 = (1 << 64) - 1
_DESIGN_STREAM = 0xD1E5_1A7E  # separates design seeds from the dataset's structure seeds
_KERNEL_ROWS = 1024  # rows of the P x P kernel matrix evaluated at once


class UnreachableTargetError(ValueError):
    """The target cannot be produced by the prior/simulator pair (refused before the run)."""


# --------------------------------------------------------------------------------------------
# Elementary pieces
# --------------------------------------------------------------------------------------------


def discrepancy(eta_sim: np.ndarray, target: np.ndarray) -> np.ndarray:
    """ρ of eq. 10 in percent: ``100 · mean_i |η'_i − η_i| / η_i``.

    Args:
        eta_sim: simulated η', shape (B, k) float.
        target: target η, shape (k,), every component > 0.

    Returns:
        ρ, shape (B,) float64 (percent).
    """
    eta_sim = np.asarray(eta_sim, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    return 100.0 * np.mean(np.abs(eta_sim - target) / target, axis=-1)


def discrepancy_lower_bound(eta_partial: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Lower bound on ρ (eq. 10, percent) from the components of η' simulated so far.

    Args:
        eta_partial: simulated η', shape (B, k) float, NaN where a component is not simulated.
        target: target η, shape (k,), every component > 0.

    Returns:
        ``100 / k · Σ_(i not NaN) |η'_i − η_i| / η_i``, shape (B,) float64; equal to
        :func:`discrepancy` for rows without NaN.
    """
    eta_partial = np.asarray(eta_partial, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    terms = np.abs(eta_partial - target) / target
    return 100.0 * np.nansum(terms, axis=-1) / target.shape[-1]


def pmc_weights(
    theta: np.ndarray,
    prev_theta: np.ndarray,
    prev_weights: np.ndarray,
    nu: np.ndarray,
    prior_density: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Importance weights of a new ABC-PMC population (Beaumont et al. 2009, product kernel).

    ``w_p ∝ π(θ_p) / Σ_q w_q Π_i φ((θ_p,i − θ_q,i)/ν_i)/ν_i``, evaluated in log space in row
    blocks so that large populations fit in memory.

    Args:
        theta: new particles, shape (P, d) float64.
        prev_theta: previous particles, shape (Q, d) float64.
        prev_weights: previous normalised weights, shape (Q,) float64.
        nu: proposal standard deviations, shape (d,) float64, all > 0.
        prior_density: π(θ) for a (P, d) array, returning (P,) float64.

    Returns:
        Normalised weights, shape (P,) float64, summing to 1.
    """
    theta = np.asarray(theta, dtype=np.float64)
    prev_theta = np.asarray(prev_theta, dtype=np.float64)
    nu = np.asarray(nu, dtype=np.float64)
    log_prev_w = np.log(np.asarray(prev_weights, dtype=np.float64))
    log_norm = -0.5 * theta.shape[1] * math.log(2.0 * math.pi) - np.sum(np.log(nu))
    log_z = np.empty(theta.shape[0])
    for start in range(0, theta.shape[0], _KERNEL_ROWS):
        block = theta[start : start + _KERNEL_ROWS]
        z = (block[:, None, :] - prev_theta[None, :, :]) / nu
        log_kernel = log_norm - 0.5 * np.sum(z * z, axis=-1)
        log_z[start : start + _KERNEL_ROWS] = logsumexp(log_kernel + log_prev_w, axis=1)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(prior_density(theta), dtype=np.float64)) - log_z
    return np.exp(log_w - logsumexp(log_w))


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Weighted quantiles by linear interpolation of the mid-point empirical CDF.

    Args:
        values: samples, shape (P,) float.
        weights: non-negative weights, shape (P,).
        q: probabilities in [0, 1].

    Returns:
        Quantiles, shape (len(q),) float64.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    keep = weights > 0  # zero-weight samples carry no mass
    order = np.argsort(values[keep])
    v, w = values[keep][order], weights[keep][order]
    cdf = (np.cumsum(w) - 0.5 * w) / np.sum(w)
    return np.interp(np.asarray(q, dtype=np.float64), cdf, v)


def _weighted_mean_std(theta: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation per column of ``theta`` (P, d)."""
    mean = weights @ theta
    var = weights @ (theta - mean) ** 2
    return mean, np.sqrt(var)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (a bijective, well-mixing hash)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def evaluation_seeds(base_seed: int, evaluation_index: np.ndarray) -> np.ndarray:
    """Structure seed of each candidate of a design run.

    Args:
        base_seed: the run's seed (non-negative int, e.g. :func:`design_seed`).
        evaluation_index: candidate numbers within the run, shape (B,) int64, ≥ 0.

    Returns:
        Seeds in [0, 2³²), shape (B,) int64; distinct runs and indices give unrelated seeds.
    """
    key = _splitmix64(np.array([(base_seed ^ _DESIGN_STREAM) & _MASK64], dtype=np.uint64))
    idx = np.asarray(evaluation_index, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = _splitmix64(key + idx * np.uint64(0x632BE59BD9B4E019))
    return (mixed >> np.uint64(32)).astype(np.int64)


def design_seed(base_seed: int, target_name: str) -> int:
    """Seed of the design run for one named target, derived from the master seed.

    Args:
        base_seed: the config's master seed.
        target_name: the target's name in the config.

    Returns:
        A seed in [0, 2³²) (int).
    """
    seq = np.random.SeedSequence([base_seed, _DESIGN_STREAM, zlib.crc32(target_name.encode())])
    return int(seq.generate_state(1, dtype=np.uint32)[0])


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class Generation:
    """One completed ABC-PMC population.

    Attributes:
        index: generation number t (0 = sampled from the prior).
        tolerance: τ_t on ρ (percent).
        theta: particles, shape (P, d) float64.
        weights: normalised weights, shape (P,) float64.
        rho: discrepancy of each particle (percent), shape (P,) float64.
        evaluations: candidates simulated in this generation (pilot included in generation 0).
        evaluations_total: candidates simulated since the start of the run.
        passed: candidates with ρ ≤ τ_t (≥ P; those beyond the P-th were discarded).
        components_simulated: η components the simulator computed in this generation (k per
            evaluation, fewer with pruning; for the CNN, forward passes).
        proposals_outside_support: perturbed proposals redrawn without simulation.
        wall_time_s: wall time of this generation (s).
        wall_time_total_s: wall time since the start of the run (s), resumed runs included.
        nu: proposal standard deviations, shape (d,), or None for generation 0.
        rng_state: state of the run's bit generator after this generation (JSON-able dict).
    """

    index: int
    tolerance: float
    theta: np.ndarray
    weights: np.ndarray
    rho: np.ndarray
    evaluations: int
    evaluations_total: int
    passed: int
    components_simulated: int
    proposals_outside_support: int
    wall_time_s: float
    wall_time_total_s: float
    nu: np.ndarray | None
    rng_state: dict[str, Any] = field(repr=False)

    @property
    def acceptance_rate(self) -> float:
        """Passing fraction of the candidates simulated in this generation."""
        return self.passed / self.evaluations if self.evaluations else 0.0

    @property
    def ess(self) -> float:
        """Effective sample size 1 / Σ w²."""
        return float(1.0 / np.sum(self.weights**2))


@dataclass
class ABCResult:
    """Outcome of :func:`abc_pmc`.

    Attributes:
        generations: the completed generations in order.
        status: ``"completed"`` or ``"budget_exhausted"``.
        message: a human-readable sentence on how the run ended.
        evaluations: candidates simulated in total (pilot included).
        wall_time_s: total wall time (s), resumed parts included.
        best_theta: the lowest-ρ candidates seen (up to P), shape (≤P, d), by increasing ρ.
        best_rho: their ρ (percent), shape (≤P,).
        param_names: names of the θ components.
        target: the target η, shape (k,).
    """

    generations: list[Generation]
    status: Status
    message: str
    evaluations: int
    wall_time_s: float
    best_theta: np.ndarray
    best_rho: np.ndarray
    param_names: tuple[str, ...]
    target: np.ndarray

    @property
    def theta(self) -> np.ndarray:
        """Posterior particles (P, d): the last generation, else the best candidates."""
        return self.generations[-1].theta if self.generations else self.best_theta

    @property
    def weights(self) -> np.ndarray:
        """Posterior weights (P,), normalised."""
        if self.generations:
            return self.generations[-1].weights
        return np.full(len(self.best_theta), 1.0 / max(len(self.best_theta), 1))

    @property
    def rho(self) -> np.ndarray:
        """ρ (percent) of the posterior particles, shape (P,)."""
        return self.generations[-1].rho if self.generations else self.best_rho

    @property
    def final_tolerance(self) -> float:
        """Tolerance of the last completed generation (percent; inf if none completed)."""
        return self.generations[-1].tolerance if self.generations else math.inf

    def posterior_mean(self) -> np.ndarray:
        """θ̂: the weighted posterior mean, shape (d,) float64 (the design)."""
        return _weighted_mean_std(self.theta, self.weights)[0]

    def posterior_std(self) -> np.ndarray:
        """Weighted posterior standard deviation, shape (d,) float64."""
        return _weighted_mean_std(self.theta, self.weights)[1]

    def quantiles(self, q: Sequence[float]) -> np.ndarray:
        """Weighted marginal quantiles, shape (len(q), d) float64."""
        cols = [weighted_quantiles(self.theta[:, j], self.weights, q) for j in range(self.dim)]
        return np.stack(cols, axis=1)

    @property
    def dim(self) -> int:
        """Number of parameters d."""
        return len(self.param_names)


# --------------------------------------------------------------------------------------------
# Reachability
# --------------------------------------------------------------------------------------------


def _target_features(eta: np.ndarray) -> np.ndarray:
    """Features (…, k + k(k−1)/2): logit η_i, then log(η_i/η_j) for i < j."""
    eta = np.asarray(eta, dtype=np.float64)
    logit = np.log(eta) - np.log1p(-eta)
    k = eta.shape[-1]
    ratios = [np.log(eta[..., i]) - np.log(eta[..., j]) for i in range(k) for j in range(i + 1, k)]
    return np.concatenate([logit, np.stack(ratios, axis=-1)], axis=-1) if ratios else logit


def check_reachable(target: np.ndarray, pilot_eta: np.ndarray, margin: float = 0.1) -> None:
    """Refuse a target outside what a pilot sample from the prior produces.

    Each feature of the target (``logit η_i`` and ``log(η_i/η_j)``) must lie within the range of
    the same feature over the pilot, widened on each side by ``margin`` times that range. This
    is a necessary condition, not a sufficient one.

    Args:
        target: target η, shape (k,), each in (0, 1).
        pilot_eta: simulated η' of prior draws, shape (M, k), each in (0, 1).
        margin: relative widening of the pilot ranges (dimensionless, ≥ 0).

    Raises:
        UnreachableTargetError: naming the first feature out of range.
    """
    pilot = np.clip(np.asarray(pilot_eta, dtype=np.float64), 1e-9, 1.0 - 1e-9)
    feats = _target_features(pilot)
    lo, hi = feats.min(axis=0), feats.max(axis=0)
    pad = margin * (hi - lo)
    t = _target_features(np.asarray(target, dtype=np.float64))
    k = len(target)
    names = [f"logit eta_{i}" for i in range(k)]
    names += [f"log(eta_{i}/eta_{j})" for i in range(k) for j in range(i + 1, k)]
    for name, value, low, high in zip(names, t, lo - pad, hi + pad, strict=True):
        if not low <= value <= high:
            raise UnreachableTargetError(
                f"target eta={np.round(target, 4).tolist()} is outside what the prior produces: "
                f"{name} = {value:.3f} not in [{low:.3f}, {high:.3f}] over "
                f"{len(pilot)} prior draws"
            )


def _validate_target(target: np.ndarray) -> np.ndarray:
    """Return the target as float64 (k,), refusing components outside (0, 1)."""
    target = np.asarray(target, dtype=np.float64).reshape(-1)
    if not np.all((target > 0.0) & (target < 1.0)):
        raise UnreachableTargetError(
            f"target eta={target.tolist()}: every component must lie strictly in (0, 1)"
        )
    return target


# --------------------------------------------------------------------------------------------
# Generation files
# --------------------------------------------------------------------------------------------


def _gen_paths(out_dir: Path, index: int) -> tuple[Path, Path]:
    return out_dir / f"gen_{index:03d}.csv", out_dir / f"gen_{index:03d}.json"


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary name, then rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _generation_stats(gen: Generation) -> dict[str, Any]:
    """Bookkeeping of one generation shared by its JSON file and the generations.csv row."""
    return {
        "generation": gen.index,
        "tolerance": gen.tolerance,
        "evaluations": gen.evaluations,
        "evaluations_total": gen.evaluations_total,
        "passed": gen.passed,
        "acceptance_rate": gen.acceptance_rate,
        "components_simulated": gen.components_simulated,
        "proposals_outside_support": gen.proposals_outside_support,
        "wall_time_s": gen.wall_time_s,
        "wall_time_total_s": gen.wall_time_total_s,
        "ess": gen.ess,
    }


def _write_generation(
    out_dir: Path, gen: Generation, names: Sequence[str], signature: Mapping[str, Any]
) -> None:
    """Write ``gen_{t:03d}.csv`` then ``gen_{t:03d}.json`` (the module docstring's format)."""
    csv_path, json_path = _gen_paths(out_dir, gen.index)
    frame = pd.DataFrame(gen.theta, columns=list(names))
    frame["weight"] = gen.weights
    frame["rho"] = gen.rho
    _atomic_write_text(csv_path, frame.to_csv(index=False, float_format="%.17g"))
    meta = {
        **_generation_stats(gen),
        "nu": None if gen.nu is None else gen.nu.tolist(),
        "param_names": list(names),
        "signature": dict(signature),
        "rng_state": gen.rng_state,
    }
    _atomic_write_text(json_path, json.dumps(meta, indent=1))


def _read_generation(csv_path: Path, json_path: Path) -> tuple[Generation, dict[str, Any]]:
    """Read one generation's files; returns the generation and its JSON metadata."""
    meta = json.loads(json_path.read_text())
    names = meta["param_names"]
    header = csv_path.read_text().partition("\n")[0].split(",")
    table = np.loadtxt(csv_path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    frame = dict(zip(header, table.T, strict=True))
    gen = Generation(
        index=int(meta["generation"]),
        tolerance=float(meta["tolerance"]),
        theta=np.ascontiguousarray(np.column_stack([frame[n] for n in names])),
        weights=np.ascontiguousarray(frame["weight"]),
        rho=np.ascontiguousarray(frame["rho"]),
        evaluations=int(meta["evaluations"]),
        evaluations_total=int(meta["evaluations_total"]),
        passed=int(meta["passed"]),
        # files written before pruning existed: every component of every evaluation
        components_simulated=int(
            meta.get(
                "components_simulated",
                int(meta["evaluations"]) * len(meta["signature"]["target"]),
            )
        ),
        proposals_outside_support=int(meta["proposals_outside_support"]),
        wall_time_s=float(meta["wall_time_s"]),
        wall_time_total_s=float(meta["wall_time_total_s"]),
        nu=None if meta["nu"] is None else np.asarray(meta["nu"], dtype=np.float64),
        rng_state=meta["rng_state"],
    )
    return gen, meta


def read_generations(out_dir: str | Path) -> list[Generation]:
    """Read the consecutive complete generations ``gen_000 …`` written by :func:`abc_pmc`.

    Args:
        out_dir: the generation directory.

    Returns:
        The generations in order (empty if none).
    """
    out_dir = Path(out_dir)
    gens: list[Generation] = []
    while True:
        csv_path, json_path = _gen_paths(out_dir, len(gens))
        if not (csv_path.exists() and json_path.exists()):
            return gens
        gens.append(_read_generation(csv_path, json_path)[0])


def _resume(out_dir: Path, signature: Mapping[str, Any]) -> list[Generation]:
    """Generations of a previous run with the same signature; stale files are removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gens: list[Generation] = []
    while True:
        csv_path, json_path = _gen_paths(out_dir, len(gens))
        if not (csv_path.exists() and json_path.exists()):
            break
        gen, meta = _read_generation(csv_path, json_path)
        if meta["signature"] != json.loads(json.dumps(dict(signature))):
            logger.warning(
                "generation files in %s are from other settings; starting afresh", out_dir
            )
            gens = []
            break
        gens.append(gen)
    for stale in sorted(out_dir.glob("gen_*.*")):
        if int(stale.stem.split("_")[1]) >= len(gens):
            stale.unlink()
    if gens:
        logger.info("resuming after generation %d from %s", gens[-1].index, out_dir)
    return gens


# --------------------------------------------------------------------------------------------
# The sampler
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prior:
    """The prior as three callables (sampler, density, support test)."""

    sample: Callable[[np.random.Generator, int], np.ndarray]
    density: Callable[[np.ndarray], np.ndarray]
    in_support: Callable[[np.ndarray], np.ndarray]


@dataclass
class _Run:
    """State shared by the generations of one run: the simulator, counters, the best set."""

    simulate: Simulator
    target: np.ndarray
    particles: int
    batch_size: int
    max_evaluations: int
    evaluations: int = 0
    prunes: bool = False
    best_theta: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    best_rho: np.ndarray = field(default_factory=lambda: np.empty(0))

    def budget_left(self) -> int:
        """Evaluations still allowed."""
        return self.max_evaluations - self.evaluations

    def cut(self, tolerance: float) -> float:
        """ρ above which a candidate can neither pass ``tolerance`` nor enter the best set."""
        best_full = len(self.best_rho) >= self.particles
        return max(tolerance, float(self.best_rho[-1])) if best_full else math.inf

    def simulate_batch(self, theta: np.ndarray, tolerance: float = math.inf) -> np.ndarray:
        """Simulate θ (B, d) with the next B evaluation indices; returns η' (B, k).

        A pruning simulator is told to drop candidates whose ρ bound exceeds ``cut(tolerance)``
        (their remaining components are NaN).
        """
        index = np.arange(self.evaluations, self.evaluations + len(theta), dtype=np.int64)
        cut = self.cut(tolerance)
        if self.prunes and math.isfinite(cut):

            def prune(eta: np.ndarray) -> np.ndarray:
                return discrepancy_lower_bound(eta, self.target) <= cut

            eta = self.simulate(theta, index, prune=prune)
        else:
            eta = self.simulate(theta, index)
        self.evaluations += len(theta)
        return np.asarray(eta, dtype=np.float64)

    def score(self, theta: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """ρ (B,) of simulated η' (non-finite → inf); keeps the P lowest-ρ candidates seen."""
        rho = discrepancy(eta, self.target)
        rho = np.where(np.isfinite(rho), rho, np.inf)
        all_theta = theta if self.best_theta.size == 0 else np.vstack([self.best_theta, theta])
        all_rho = np.concatenate([self.best_rho, rho])
        order = np.argsort(all_rho, kind="stable")[: self.particles]
        self.best_theta, self.best_rho = all_theta[order], all_rho[order]
        return rho


def _simulated_components(eta: np.ndarray) -> int:
    """η components a simulator computed: the entries of η' (B, k) that are not NaN."""
    return int(np.count_nonzero(~np.isnan(eta)))


@dataclass
class _Fill:
    """Accepted particles of the generation being filled, and its counters."""

    need: int
    tolerance: float
    theta: list[np.ndarray] = field(default_factory=list)
    rho: list[np.ndarray] = field(default_factory=list)
    count: int = 0
    passed: int = 0
    evaluations: int = 0
    components: int = 0

    def add(self, theta: np.ndarray, rho: np.ndarray, components: int) -> int:
        """Accept the first passing candidates, in candidate order; returns how many.

        ``components`` is the number of η components simulated for these candidates.
        """
        ok = np.flatnonzero(rho <= self.tolerance)
        self.passed += len(ok)
        self.evaluations += len(rho)
        self.components += components
        take = ok[: self.need - self.count]
        self.theta.append(theta[take])
        self.rho.append(rho[take])
        self.count += len(take)
        return len(take)

    @property
    def full(self) -> bool:
        """Whether P particles were accepted."""
        return self.count >= self.need


def _perturbation_proposer(
    prev: Generation, nu: np.ndarray, prior: _Prior, rng: np.random.Generator, outside: list[int]
) -> Callable[[int], np.ndarray]:
    """Proposals of generation t ≥ 1: pick by weight, perturb by N(0, ν²), redraw outside support.

    ``outside[0]`` accumulates the number of proposals redrawn (never simulated).
    """

    def propose(n: int) -> np.ndarray:
        kept: list[np.ndarray] = []
        have = 0
        for _ in range(10_000):
            pick = rng.choice(len(prev.theta), size=n, p=prev.weights)
            cand = prev.theta[pick] + nu * rng.standard_normal((n, prev.theta.shape[1]))
            ok = np.asarray(prior.in_support(cand), dtype=bool)
            outside[0] += int(n - ok.sum())
            kept.append(cand[ok])
            have += int(ok.sum())
            if have >= n:
                return np.concatenate(kept)[:n]
        raise RuntimeError("perturbed proposals keep leaving the prior's support (nu too large?)")

    return propose


def _proposal_std(prev: Generation) -> np.ndarray:
    """ν_i = √2 · std(θ_i) (Algorithm 1), std weighted by the previous generation's weights."""
    nu = math.sqrt(2.0) * _weighted_mean_std(prev.theta, prev.weights)[1]
    floor = 1e-12 * np.maximum(np.abs(prev.theta).max(axis=0), 1.0)
    return np.maximum(nu, floor)


def _next_tolerance(
    gens: list[Generation], tolerances: Sequence[float], schedule: str, max_generations: int
) -> float | None:
    """τ of the next generation, or None when the schedule is done."""
    t = len(gens)
    if schedule == "fixed":
        return float(tolerances[t]) if t < len(tolerances) else None
    if t == 0:
        return float(tolerances[0])
    final, last = float(tolerances[-1]), gens[-1].tolerance
    if last <= final or t >= max_generations:
        return None
    # adaptive: the median ρ of the previous population, never below the final tolerance
    return max(min(float(np.median(gens[-1].rho)), last), final)


def _pilot(run: _Run, prior: _Prior, rng: np.random.Generator, size: int, margin: float) -> _Fill:
    """Simulate ``size`` prior draws and check reachability; returns them as scored candidates.

    Returns a :class:`_Fill` with tolerance inf holding every pilot candidate in order, so that
    generation 0 can take its first particles from it.
    """
    n = min(size, run.max_evaluations)
    pilot = _Fill(need=n, tolerance=math.inf)
    etas = []
    for start in range(0, n, run.batch_size):
        theta = np.asarray(prior.sample(rng, min(run.batch_size, n - start)), dtype=np.float64)
        eta = run.simulate_batch(theta)
        etas.append(eta)
        pilot.add(theta, run.score(theta, eta), _simulated_components(eta))
    if etas:
        check_reachable(run.target, np.concatenate(etas), margin)
    return pilot


def _run_generation(
    run: _Run,
    gens: list[Generation],
    tolerance: float,
    prior: _Prior,
    rng: np.random.Generator,
    pilot: _Fill | None,
    progress: bool,
) -> Generation | None:
    """Fill one generation by batches; returns None when the budget ran out first."""
    t0 = time.perf_counter()
    fill = _Fill(need=run.particles, tolerance=tolerance)
    outside = [0]
    nu = None
    if not gens:
        if pilot is not None:
            fill.add(np.concatenate(pilot.theta), np.concatenate(pilot.rho), pilot.components)

        def propose(n: int) -> np.ndarray:
            return np.asarray(prior.sample(rng, n), dtype=np.float64)

    else:
        nu = _proposal_std(gens[-1])
        propose = _perturbation_proposer(gens[-1], nu, prior, rng, outside)
    with tqdm(total=run.particles, desc=f"ABC gen {len(gens)}", disable=not progress) as bar:
        bar.update(fill.count)
        while not fill.full and run.budget_left() > 0:
            theta = propose(min(run.batch_size, run.budget_left()))
            eta = run.simulate_batch(theta, tolerance)
            bar.update(fill.add(theta, run.score(theta, eta), _simulated_components(eta)))
            rate = fill.passed / max(fill.evaluations, 1)
            bar.set_postfix(tol=f"{tolerance:.3g}", acc=f"{rate:.3g}", evals=run.evaluations)
    if not fill.full:
        return None
    theta = np.concatenate(fill.theta)
    if gens:
        weights = pmc_weights(theta, gens[-1].theta, gens[-1].weights, nu, prior.density)
    else:
        weights = np.full(run.particles, 1.0 / run.particles)
    return Generation(
        index=len(gens),
        tolerance=tolerance,
        theta=theta,
        weights=weights,
        rho=np.concatenate(fill.rho),
        evaluations=fill.evaluations,
        evaluations_total=run.evaluations,
        passed=fill.passed,
        components_simulated=fill.components,
        proposals_outside_support=outside[0],
        wall_time_s=time.perf_counter() - t0,
        wall_time_total_s=0.0,
        nu=nu,
        rng_state=rng.bit_generator.state,
    )


def _signature(settings: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """JSON round-tripped settings of a run (compared on resume)."""
    return json.loads(json.dumps({**settings, **(extra or {})}))


def _param_names(param_names: Sequence[str] | None, dim: int) -> tuple[str, ...]:
    """Names of the θ components: given, or the spinodoid names for d = 4, else theta_j."""
    if param_names:
        return tuple(param_names)
    return PARAM_NAMES if dim == 4 else tuple(f"theta_{j}" for j in range(dim))


def _accepts_prune(simulate: Simulator) -> bool:
    """Whether ``simulate`` takes the keyword ``prune`` (module docstring)."""
    try:
        return "prune" in inspect.signature(simulate).parameters
    except (TypeError, ValueError):  # callables without an inspectable signature
        return False


def _check_arguments(
    tolerances: list[float], schedule: str, particles: int, batch: int, budget: int
) -> None:
    """Raise ValueError for an unknown or non-decreasing schedule, or non-positive sizes."""
    if schedule not in ("fixed", "adaptive"):
        raise ValueError(f"tolerance schedule must be 'fixed' or 'adaptive', got {schedule!r}")
    if not tolerances or any(b >= a for a, b in zip(tolerances, tolerances[1:], strict=False)):
        raise ValueError(f"tolerances must be non-empty and strictly decreasing: {tolerances}")
    if particles < 2 or batch < 1 or budget < 1:
        raise ValueError("need particles >= 2, batch_size >= 1 and max_evaluations >= 1")


def abc_pmc(
    simulate: Simulator,
    target: Sequence[float] | np.ndarray,
    prior_sampler: Callable[[np.random.Generator, int], np.ndarray],
    prior_density: Callable[[np.ndarray], np.ndarray],
    in_support: Callable[[np.ndarray], np.ndarray],
    particles: int,
    tolerances: Sequence[float],
    rng: np.random.Generator,
    batch_size: int = 256,
    max_evaluations: int = 5_000_000,
    *,
    schedule: Literal["fixed", "adaptive"] = "fixed",
    max_generations: int = 50,
    pilot_size: int = 1024,
    reachability_margin: float = 0.1,
    param_names: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    signature: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> ABCResult:
    """Run batched ABC-PMC (Beaumont et al. 2009; paper Algorithm 1) for any batched simulator.

    Args:
        simulate: ``simulate(theta (B, d), evaluation_index (B,) int64) -> eta (B, k)``; η must
            be positive. The index numbers every candidate of the run from 0, for seeding. A
            keyword ``prune`` in its signature enables pruning (module docstring).
        target: target η, shape (k,), each component in (0, 1).
        prior_sampler: ``prior_sampler(rng, n) -> (n, d)`` draws from the prior.
        prior_density: π(θ) for (n, d) → (n,) (any constant factor; 0 outside the support).
        in_support: (n, d) → (n,) bool, True inside the prior's support.
        particles: population size P (paper 512).
        tolerances: τ on ρ in percent. Fixed schedule: τ_1 > τ_2 > … (paper 10^2 … 10^0).
            Adaptive: τ_1, then the median ρ of the previous generation, down to the last entry.
        rng: random generator of the run; its state is saved per generation for resuming.
        batch_size: candidates simulated per call of ``simulate``.
        max_evaluations: evaluation budget (pilot included); reaching it ends the run with
            status ``"budget_exhausted"``.
        schedule: ``"fixed"`` or ``"adaptive"``.
        max_generations: cap on the number of generations of the adaptive schedule.
        pilot_size: prior draws simulated first for the reachability check (0 disables it);
            they are also the first candidates of generation 0.
        reachability_margin: relative widening of the pilot's ranges (:func:`check_reachable`).
        param_names: names of the θ components (default ``a_x, a_y, a_z, eps`` for d = 4).
        out_dir: directory of the generation files (module docstring); enables resuming.
        signature: extra JSON-able settings that must match for a resume (e.g. model, seed).
        progress: show a tqdm bar per generation.

    Returns:
        The :class:`ABCResult`.

    Raises:
        UnreachableTargetError: a component outside (0, 1), or outside the pilot's range.
        ValueError: inconsistent arguments.
    """
    target = _validate_target(target)
    tolerances = [float(t) for t in tolerances]
    _check_arguments(tolerances, schedule, particles, batch_size, max_evaluations)
    prior = _Prior(prior_sampler, prior_density, in_support)
    names = _param_names(param_names, np.shape(prior_sampler(np.random.default_rng(0), 1))[1])
    settings = {
        "target": target.tolist(),
        "particles": particles,
        "tolerances": tolerances,
        "schedule": schedule,
        "batch_size": batch_size,
        "pilot_size": pilot_size,
        "rng_state": rng.bit_generator.state,
        "param_names": list(names),
    }
    sig = _signature(settings, signature)
    run = _Run(
        simulate, target, particles, batch_size, max_evaluations, prunes=_accepts_prune(simulate)
    )
    out = Path(out_dir) if out_dir is not None else None
    gens = _resume(out, sig) if out is not None else []
    if gens:
        rng.bit_generator.state = gens[-1].rng_state
        run.evaluations = gens[-1].evaluations_total
        run.best_theta, run.best_rho = gens[-1].theta, gens[-1].rho
    elapsed0 = gens[-1].wall_time_total_s if gens else 0.0
    t_start = time.perf_counter()
    pilot = None
    if not gens and pilot_size > 0:
        pilot = _pilot(run, prior, rng, pilot_size, reachability_margin)
    pilot_s = time.perf_counter() - t_start
    status: Status = "completed"
    while (tol := _next_tolerance(gens, tolerances, schedule, max_generations)) is not None:
        gen = _run_generation(run, gens, tol, prior, rng, pilot, progress)
        if gen is None:
            status = "budget_exhausted"
            break
        gen.wall_time_total_s = elapsed0 + time.perf_counter() - t_start
        if gen.index == 0:
            gen.wall_time_s += pilot_s  # the pilot's candidates are generation 0's first ones
        gens.append(gen)
        if out is not None:
            _write_generation(out, gen, names, sig)
        _log_generation(gen)
    message = _final_message(status, gens, run, tolerances)
    (logger.warning if status != "completed" else logger.info)(message)
    return ABCResult(
        generations=gens,
        status=status,
        message=message,
        evaluations=run.evaluations,
        wall_time_s=elapsed0 + time.perf_counter() - t_start,
        best_theta=run.best_theta,
        best_rho=run.best_rho,
        param_names=names,
        target=target,
    )


def _log_generation(gen: Generation) -> None:
    """One log line per completed generation."""
    logger.info(
        "generation %d: tolerance %.4g %%, %d evaluations (%.2f components simulated per "
        "evaluation), acceptance %.3g, ESS %.1f, %.1f s",
        gen.index,
        gen.tolerance,
        gen.evaluations,
        gen.components_simulated / max(gen.evaluations, 1),
        gen.acceptance_rate,
        gen.ess,
        gen.wall_time_s,
    )


def _final_message(
    status: Status, gens: list[Generation], run: _Run, tolerances: Sequence[float]
) -> str:
    """One sentence on how the run ended."""
    if status == "completed":
        return (
            f"ABC-PMC completed {len(gens)} generations down to tolerance "
            f"{gens[-1].tolerance:.4g} % with {run.evaluations} evaluations"
        )
    done = f"generation {gens[-1].index} (tolerance {gens[-1].tolerance:.4g} %)" if gens else "none"
    return (
        f"evaluation budget of {run.max_evaluations} reached before generation {len(gens)} "
        f"filled its {run.particles} particles (final tolerance {tolerances[-1]:.4g} %); "
        f"last complete generation: {done}; lowest rho so far {float(run.best_rho[0]):.4g} %. "
        "The target may be out of the simulator's reach: raise max_evaluations or relax the "
        "tolerances."
    )


# --------------------------------------------------------------------------------------------


def _default_chunk(size: int, device_type: str) -> int:
    """Structures generated per torch call: about 1 GiB (CPU) or 8 GiB (CUDA) of work arrays."""
    budget = (8 if device_type == "cuda" else 1) * 2**30
    return int(max(1, min(256, budget // (40 * size**3))))


def cnn_simulator(
    model_path: str | Path,
    device: str = "auto",
    base_seed: int = 0,
    chunk_size: int | None = None,
    bf16: bool = True,
) -> Simulator:
    """The paper's simulator: generate a structure per θ (torch FFT) and predict η with the CNN.

    Candidate ``k`` of the run gets the structure seed ``evaluation_seeds(base_seed, k)``, so a
    design run is reproducible from ``base_seed``. Structures are generated ``chunk_size`` at a
    time, with torch FFTs on CUDA and with scipy's (faster there) on the CPU, the two giving the
    same structures (:mod:`spinodoid.structure`); the 2×2×2 block counts of the whole call go
    through the CNN for the three axes in forward passes of ``3 · chunk_size`` samples
    (:func:`spinodoid.model.predict_eta_all_axes`).
    Given ``prune`` (module docstring), it predicts x, then y and z only for the candidates
    ``prune`` keeps (:func:`spinodoid.model.predict_eta_pruned`).

    Args:
        model_path: checkpoint written by :func:`spinodoid.model.save_checkpoint`; its meta gives
            the structure size N.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        base_seed: the run's seed (e.g. :func:`design_seed`).
        chunk_size: structures per torch call (default: sized to the memory of ``device``).
        bf16: bf16 autocast of the CNN on CUDA (ignored on the CPU).

    Returns:
        ``simulate(theta (B, 4) float64, evaluation_index (B,) int64, prune=None) -> eta (B, 3)
        float64``.
    """
    import torch

    from spinodoid.data import block_counts
    from spinodoid.model import (
        load_model,
        predict_eta_all_axes,
        predict_eta_pruned,
        resolve_device,
    )
    from spinodoid.structure import generate_structure, generate_structures_torch

    dev = resolve_device(device)
    model, meta = load_model(model_path, dev)
    size = int(meta["size"])
    chunk = chunk_size or _default_chunk(size, dev.type)
    logger.info("CNN simulator: N=%d on %s, %d structures per chunk", size, dev, chunk)

    def structures(theta: np.ndarray, seeds: np.ndarray) -> torch.Tensor:
        if dev.type == "cpu":  # scipy's FFT beats torch's on the CPU; same structures
            pairs = zip(theta, seeds, strict=True)
            return torch.from_numpy(
                np.stack([generate_structure(t, int(s), size) for t, s in pairs])
            )
        return generate_structures_torch(theta, seeds, size, dev)

    def predict(counts: torch.Tensor, prune: Callable | None) -> torch.Tensor:
        if prune is None:
            return predict_eta_all_axes(model, counts, dev, batch_size=3 * chunk, bf16=bf16)

        def keep(eta: torch.Tensor) -> np.ndarray:
            return np.asarray(prune(eta.numpy()), dtype=bool)

        return predict_eta_pruned(model, counts, keep, dev, batch_size=3 * chunk, bf16=bf16)

    def simulate(
        theta: np.ndarray,
        evaluation_index: np.ndarray,
        prune: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        if len(theta) == 0:
            return np.empty((0, 3))
        seeds = evaluation_seeds(base_seed, evaluation_index)
        with torch.inference_mode():
            # all block counts first (1/8 byte per voxel), so that the passes pruning leaves
            # for y and z still see the survivors of the whole batch together
            counts = torch.cat(
                [
                    block_counts(
                        structures(theta[start : start + chunk], seeds[start : start + chunk])
                    )
                    for start in range(0, len(theta), chunk)
                ]
            )
            return predict(counts, prune).double().cpu().numpy()

    return simulate


def _file_digest(path: Path) -> str:
    """Short SHA-256 of a file (identifies a checkpoint in the resume signature)."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def run_design(
    model_path: str | Path,
    target: Sequence[float],
    out_dir: str | Path,
    *,
    particles: int = 512,
    log10_tolerances: Sequence[float] = (2.0, 1.75, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25, 0.0),
    tolerance_schedule: Literal["fixed", "adaptive"] = "fixed",
    batch_size: int = 256,
    max_evaluations: int = 5_000_000,
    device: str = "auto",
    seed: int = 0,
    name: str = "target",
    pilot_size: int | None = None,
    reference_eta: np.ndarray | None = None,
    bf16: bool = True,
    progress: bool = True,
) -> ABCResult:
    """Design θ for a target η with the CNN and the paper's prior; write the outputs.

    Writes ``out_dir/generations/gen_*.{csv,json}`` (resumable), ``out_dir/posterior.csv``,
    ``out_dir/theta_hat.json`` and ``out_dir/generations.csv`` (:func:`write_design_outputs`).

    Args:
        model_path: CNN checkpoint (its meta gives N).
        target: (η_x, η_y, η_z), each in (0, 1).
        out_dir: output directory (created).
        particles: population size P (paper 512).
        log10_tolerances: log10 of the tolerances on ρ in percent (paper 2, 1.75, …, 0).
        tolerance_schedule: ``"fixed"`` or ``"adaptive"`` (see :func:`abc_pmc`).
        batch_size: candidates per simulator call.
        max_evaluations: evaluation budget.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        seed: seed of this design run (e.g. :func:`design_seed` of the master seed and name).
        name: target name stored in theta_hat.json.
        pilot_size: prior draws of the reachability pilot (default max(P, 64)); they are
            generation 0's first candidates, so hardly wasted. Ignored (no pilot) when
            ``reference_eta`` is given.
        reference_eta: solver η of structures drawn from the prior, shape (M, 3), e.g. the
            training dataset's. When given, reachability is judged against them
            (:func:`check_reachable`) rather than against CNN predictions of a pilot: they are
            what the prior really produces, whatever the CNN's accuracy.
        bf16: bf16 autocast of the CNN on CUDA.
        progress: tqdm bars per generation.

    Returns:
        The :class:`ABCResult`.
    """
    from spinodoid.model import resolve_device
    from spinodoid.prior import in_support, prior_density, sample_prior

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = _validate_target(target)
    if reference_eta is not None:
        check_reachable(target, reference_eta)
        pilot_size = 0
    device = str(resolve_device(device))
    simulate = cnn_simulator(model_path, device, seed, bf16=bf16)
    result = abc_pmc(
        simulate,
        target,
        sample_prior,
        prior_density,
        in_support,
        particles,
        [10.0**x for x in log10_tolerances],
        np.random.default_rng(seed),
        batch_size,
        max_evaluations,
        schedule=tolerance_schedule,
        pilot_size=max(particles, 64) if pilot_size is None else pilot_size,
        out_dir=out / "generations",
        signature={"model": _file_digest(Path(model_path)), "seed": seed, "bf16": bf16},
        progress=progress,
    )
    info = {"target": name, "seed": seed, "model": str(model_path), "device": device}
    write_design_outputs(result, out, info)
    return result


def _summary_frame(result: ABCResult) -> pd.DataFrame:
    """One row per generation (the generations.csv summary)."""
    rows = []
    for gen in result.generations:
        mean, std = _weighted_mean_std(gen.theta, gen.weights)
        row: dict[str, Any] = _generation_stats(gen)
        for j, p in enumerate(result.param_names):
            row[f"mean_{p}"] = mean[j]
            row[f"std_{p}"] = std[j]
            row[f"nu_{p}"] = math.nan if gen.nu is None else gen.nu[j]
        rows.append(row)
    return pd.DataFrame(rows)


def generations_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The report's view of a generations.csv summary: one row per generation with τ (%),
    evaluations, acceptance rate, η components simulated per evaluation (CNN passes, 3 without
    pruning), ESS, wall time (s) and the weighted posterior mean of each parameter."""
    names = [c.removeprefix("mean_") for c in summary.columns if c.startswith("mean_")]
    table = pd.DataFrame(
        {
            "generation": summary["generation"],
            "tolerance (%)": summary["tolerance"],
            "evaluations": summary["evaluations"],
            "acceptance": summary["acceptance_rate"],
            "passes / evaluation": summary["components_simulated"] / summary["evaluations"],
            "ESS": summary["ess"],
            "wall time (s)": summary["wall_time_s"],
        }
    )
    for name in names:
        table[f"mean {name}"] = summary[f"mean_{name}"]
    return table


def _theta_hat_dict(result: ABCResult, info: Mapping[str, Any]) -> dict[str, Any]:
    """Contents of theta_hat.json: θ̂ by name, then run statistics."""
    names = result.param_names
    probs = (0.05, 0.25, 0.5, 0.75, 0.95)
    quant = result.quantiles(probs)
    gens = result.generations
    return {
        **{p: float(v) for p, v in zip(names, result.posterior_mean(), strict=True)},
        **dict(info),
        "target_eta": result.target.tolist(),
        "status": result.status,
        "message": result.message,
        "particles": len(result.theta),
        "generations": len(gens),
        "evaluations": result.evaluations,
        "evaluations_per_generation": [g.evaluations for g in gens],
        "tolerances": [g.tolerance for g in gens],
        "final_tolerance": result.final_tolerance if gens else None,
        "acceptance_rates": [g.acceptance_rate for g in gens],
        "wall_time_s": result.wall_time_s,
        "evaluations_per_second": result.evaluations / max(result.wall_time_s, 1e-9),
        "ess": float(1.0 / np.sum(result.weights**2)),
        "posterior_std": {p: float(v) for p, v in zip(names, result.posterior_std(), strict=True)},
        "posterior_quantiles": {
            f"{q:g}": {p: float(quant[i, j]) for j, p in enumerate(names)}
            for i, q in enumerate(probs)
        },
    }


def write_design_outputs(
    result: ABCResult, out_dir: str | Path, info: Mapping[str, Any] | None = None
) -> None:
    """Write posterior.csv, theta_hat.json and generations.csv to ``out_dir`` (temp + rename).

    - ``posterior.csv``: one row per particle, columns ``a_x, a_y, a_z, eps, weight, rho``.
    - ``theta_hat.json``: ``{"a_x", "a_y", "a_z", "eps"}`` (the weighted posterior mean) plus
      ``info``, ``status``, ``message``, ``evaluations``, ``acceptance_rates``, ``tolerances``,
      ``final_tolerance``, ``wall_time_s``, ``ess``, ``posterior_std`` and
      ``posterior_quantiles`` (probabilities 0.05 … 0.95 → value per parameter).
    - ``generations.csv``: one row per generation (tolerance, evaluations, acceptance rate,
      components simulated, wall time, ESS, weighted mean/std and ν of every parameter).

    Args:
        result: the run's result.
        out_dir: existing or new directory.
        info: extra JSON-able keys for theta_hat.json (e.g. target name, seed, model).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(result.theta, columns=list(result.param_names))
    frame["weight"] = result.weights
    frame["rho"] = result.rho
    _atomic_write_text(out / "posterior.csv", frame.to_csv(index=False, float_format="%.17g"))
    summary = _summary_frame(result)
    _atomic_write_text(out / "generations.csv", summary.to_csv(index=False, float_format="%.10g"))
    theta_hat = _theta_hat_dict(result, info or {})
    _atomic_write_text(out / "theta_hat.json", json.dumps(theta_hat, indent=1))
