"""Batched ABC population Monte Carlo for any batched simulator (paper Algorithm 1).

The sampler follows Beaumont, Cornuet, Marin & Robert, *Biometrika* 96 (2009) as the paper
adapts it (docs/method.md §5). Generation 0 samples θ from the prior until ``P`` particles
satisfy ρ ≤ τ_1. Generation t ≥ 1 draws a particle of generation t − 1 by weight, perturbs it
and accepts candidates with ρ ≤ τ_t (:mod:`spinodoid.abc.kernels`). The discrepancy is eq. 10,
ρ = 100 · mean_i |η'_i − η_i| / η_i (percent). It knows nothing of structures, CNNs or torch:
the simulator is any callable of the protocol in :mod:`spinodoid.abc`.

Batching and bookkeeping
------------------------
Candidates are simulated ``batch_size`` at a time. Within a batch, the candidates that pass are
accepted **in candidate order** until the population is full; the passing candidates after that
are discarded. Every simulated candidate counts as one evaluation, discarded ones included, so
``evaluations`` is exactly the number of rows the simulator was given. The last batch before the
evaluation budget is cut to the budget, so a run never simulates more than ``max_evaluations``
candidates. Proposals outside the prior's support are never simulated and are counted apart
(``proposals_outside_support``). Candidate ``k`` of the run (0-based, counted over all
generations and the pilot) is simulated with evaluation index ``k``.

Pruned evaluations
------------------
ρ is a mean of non-negative terms, so the components simulated so far bound it from below:
ρ ≥ 100/k · Σ_(i simulated) |η'_i − η_i| / η_i (:func:`discrepancy_lower_bound`). A simulator
that accepts a keyword ``prune`` is given ``prune(eta)``, a row-wise test on η' so far (NaN where
not simulated) that is False once the bound exceeds the cut ``max(τ_t, ρ of the P-th best
candidate so far)``; the simulator then skips the remaining components of that candidate and
returns NaN for them. Such a candidate could neither pass τ_t nor enter the best-so-far set, so
the run (particles, weights, ρ, evaluation counts, best particles) is the same as without
pruning; only the number of simulated components (``components_simulated``) drops. It still
counts as one evaluation. "The same" holds bit for bit for a simulator whose η' of a candidate
does not depend on the other rows of its call. The CNN's float32 forward passes do, in the last
bits, because pruning changes which structures share a pass: on the demo model, a 9-generation
run gave the same particles and weights in every generation and ρ within 6e-6 % of the unpruned
run.

Ending
------
A target is checked first (:mod:`spinodoid.abc.reachability`: a pilot of ``pilot_size`` prior
draws, which are also generation 0's first candidates). A target that passes the check but that
the simulator cannot match to the final tolerance stops at ``max_evaluations`` with status
``"budget_exhausted"``, a warning, and the best particles so far (the last complete generation,
or in generation 0 the ``P`` lowest-ρ candidates). The adaptive schedule can tell a target out of
reach sooner: when the median ρ of a generation is less than ``min_tolerance_decrease`` (a
fraction) below its tolerance, or after ``max_generations``, while still above the final
tolerance, the tolerance has reached the simulator's floor for that target. The run ends with
status ``"tolerance_floor"``, a warning naming the floor, and that generation's particles: the
closest the prior lets the simulator come, which more evaluations would not improve. An adaptive
run that reaches ``max_generations`` while its tolerance still falls has run out of a budget:
``"budget_exhausted"``. The run never loops without end.

With ``out_dir`` the generations are written and resumed by :mod:`spinodoid.abc.store`.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from spinodoid.abc.kernels import KERNELS, fit_perturbation, perturbation_proposer, pmc_weights
from spinodoid.abc.reachability import check_reachable, validate_target
from spinodoid.abc.results import PARAM_NAMES, ABCResult, Generation, Status
from spinodoid.abc.rho import discrepancy, discrepancy_lower_bound
from spinodoid.abc.store import resume, write_generation

__all__ = ["Simulator", "abc_pmc"]

logger = logging.getLogger(__name__)


Simulator = Callable[..., np.ndarray]
"""``simulate(theta (B, d) float64, evaluation_index (B,) int64) -> eta (B, k) float64``,
optionally with a keyword ``prune`` (the protocol in :mod:`spinodoid.abc`)."""


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
    kernel: str = "componentwise"
    log_columns: tuple[int, ...] = ()
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


def _counts(eta: np.ndarray) -> tuple[int, int]:
    """(η components a simulator computed, candidates it refused) of η' (B, k): the entries
    that are not NaN, and the rows that are NaN throughout."""
    missing = np.isnan(eta)
    return int(np.count_nonzero(~missing)), int(np.count_nonzero(missing.all(axis=1)))


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
    rejected: int = 0

    def add(self, theta: np.ndarray, rho: np.ndarray, components: int, rejected: int) -> int:
        """Accept the first passing candidates, in candidate order; returns how many.

        ``components`` and ``rejected`` count the η components simulated and the candidates
        the simulator refused among these candidates (:func:`_counts`).
        """
        ok = np.flatnonzero(rho <= self.tolerance)
        self.passed += len(ok)
        self.evaluations += len(rho)
        self.components += components
        self.rejected += rejected
        take = ok[: self.need - self.count]
        self.theta.append(theta[take])
        self.rho.append(rho[take])
        self.count += len(take)
        return len(take)

    @property
    def full(self) -> bool:
        """Whether P particles were accepted."""
        return self.count >= self.need


def _next_tolerance(
    gens: list[Generation],
    tolerances: Sequence[float],
    schedule: str,
    max_generations: int,
    min_decrease: float,
) -> float | None:
    """τ of the next generation, or None when the schedule is done (adaptive: at the final
    tolerance, at ``max_generations``, or stalled above the final tolerance, the median ρ less
    than ``min_decrease`` below the last τ)."""
    t = len(gens)
    if schedule == "fixed":
        return float(tolerances[t]) if t < len(tolerances) else None
    if t == 0:
        return float(tolerances[0])
    final, last = float(tolerances[-1]), gens[-1].tolerance
    if last <= final or t >= max_generations:
        return None
    # adaptive: the median ρ of the previous population, never below the final tolerance
    proposed = max(min(float(np.median(gens[-1].rho)), last), final)
    if proposed > final and proposed > last * (1.0 - min_decrease):
        return None
    return proposed


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
        pilot.add(theta, run.score(theta, eta), *_counts(eta))
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
    kernel = None
    if not gens:
        if pilot is not None:
            theta, rho = np.concatenate(pilot.theta), np.concatenate(pilot.rho)
            fill.add(theta, rho, pilot.components, pilot.rejected)

        def propose(n: int) -> np.ndarray:
            return np.asarray(prior.sample(rng, n), dtype=np.float64)

    else:
        kernel = fit_perturbation(gens[-1], run.kernel, run.log_columns)
        propose = perturbation_proposer(gens[-1], kernel, prior.in_support, rng, outside)
    with tqdm(total=run.particles, desc=f"ABC gen {len(gens)}", disable=not progress) as bar:
        bar.update(fill.count)
        while not fill.full and run.budget_left() > 0:
            theta = propose(min(run.batch_size, run.budget_left()))
            eta = run.simulate_batch(theta, tolerance)
            bar.update(fill.add(theta, run.score(theta, eta), *_counts(eta)))
            rate = fill.passed / max(fill.evaluations, 1)
            bar.set_postfix(tol=f"{tolerance:.3g}", acc=f"{rate:.3g}", evals=run.evaluations)
    if not fill.full:
        return None
    theta = np.concatenate(fill.theta)
    if kernel is not None:
        weights = pmc_weights(theta, gens[-1].theta, gens[-1].weights, kernel, prior.density)
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
        nu=None if kernel is None else kernel.std,
        rng_state=rng.bit_generator.state,
        rejected=fill.rejected,
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
    min_tolerance_decrease: float = 0.005,
    pilot_size: int = 1024,
    reachability_margin: float = 0.1,
    param_names: Sequence[str] | None = None,
    kernel: str = "componentwise",
    log_columns: Sequence[int] = (),
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
        min_tolerance_decrease: the adaptive schedule stops, with status
            ``"tolerance_floor"``, when the next tolerance would be less than this fraction
            below the last one while still above the final tolerance (module docstring; at
            ``max_generations`` instead the status is ``"budget_exhausted"``).
        pilot_size: prior draws simulated first for the reachability check (0 disables it);
            they are also the first candidates of generation 0.
        reachability_margin: relative widening of the pilot's ranges (:func:`check_reachable`).
        param_names: names of the θ components (default ``a_x, a_y, a_z, eps`` for d = 4).
        kernel: the perturbation kernel, ``"componentwise"`` (the paper's) or ``"correlated"``
            (:mod:`spinodoid.abc.kernels`).
        log_columns: columns of θ perturbed in log (positive on the prior's support).
        out_dir: directory of the generation files (:mod:`spinodoid.abc.store`); enables resuming.
        signature: extra JSON-able settings that must match for a resume (e.g. model, seed).
        progress: show a tqdm bar per generation.

    Returns:
        The :class:`ABCResult`.

    Raises:
        UnreachableTargetError: a component outside (0, 1), or outside the pilot's range.
        ValueError: inconsistent arguments.
    """
    target = validate_target(target)
    tolerances = [float(t) for t in tolerances]
    _check_arguments(tolerances, schedule, particles, batch_size, max_evaluations)
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
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
        "kernel": kernel,
        "log_columns": [int(c) for c in log_columns],
    }
    sig = _signature(settings, signature)
    run = _Run(
        simulate,
        target,
        particles,
        batch_size,
        max_evaluations,
        prunes=_accepts_prune(simulate),
        kernel=kernel,
        log_columns=tuple(int(c) for c in log_columns),
    )
    out = Path(out_dir) if out_dir is not None else None
    gens = resume(out, sig) if out is not None else []
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
    while (
        tol := _next_tolerance(gens, tolerances, schedule, max_generations, min_tolerance_decrease)
    ) is not None:
        gen = _run_generation(run, gens, tol, prior, rng, pilot, progress)
        if gen is None:
            status = "budget_exhausted"
            break
        gen.wall_time_total_s = elapsed0 + time.perf_counter() - t_start
        if gen.index == 0:
            gen.wall_time_s += pilot_s  # the pilot's candidates are generation 0's first ones
        gens.append(gen)
        if out is not None:
            write_generation(out, gen, names, sig)
        _log_generation(gen)
    capped = False
    if status == "completed" and gens and gens[-1].tolerance > tolerances[-1]:
        capped = len(gens) >= max_generations  # adaptive only: a fixed schedule ends at its last
        status = "budget_exhausted" if capped else "tolerance_floor"
    message = _final_message(status, gens, run, tolerances, capped)
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
    status: Status,
    gens: list[Generation],
    run: _Run,
    tolerances: Sequence[float],
    capped: bool,
) -> str:
    """One sentence on how the run ended (``capped``: at the adaptive generation cap)."""
    if status == "completed":
        return (
            f"ABC-PMC completed {len(gens)} generations down to tolerance "
            f"{gens[-1].tolerance:.4g} % with {run.evaluations} evaluations"
        )
    if status == "tolerance_floor":
        return (
            f"ABC-PMC stopped after {len(gens)} generations at tolerance "
            f"{gens[-1].tolerance:.4g} %, above the final {tolerances[-1]:.4g} %: the adaptive "
            "tolerance stopped falling, so the simulator comes no closer to the target than "
            f"about {gens[-1].tolerance:.4g} % in the prior; theta-hat is the closest design "
            f"({run.evaluations} evaluations)"
        )
    if capped:
        return (
            f"the adaptive schedule reached its cap of {len(gens)} generations at tolerance "
            f"{gens[-1].tolerance:.4g} % while still falling, above the final "
            f"{tolerances[-1]:.4g} % ({run.evaluations} evaluations)"
        )
    done = f"generation {gens[-1].index} (tolerance {gens[-1].tolerance:.4g} %)" if gens else "none"
    return (
        f"evaluation budget of {run.max_evaluations} reached before generation {len(gens)} "
        f"filled its {run.particles} particles (final tolerance {tolerances[-1]:.4g} %); "
        f"last complete generation: {done}; lowest rho so far {float(run.best_rho[0]):.4g} %. "
        "The target may be out of the simulator's reach: raise max_evaluations or relax the "
        "tolerances."
    )
