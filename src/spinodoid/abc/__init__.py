"""Batched ABC-PMC inverse design (paper Algorithm 1; docs/method.md §5).

One module per idea:

=================================  ============================================================
:mod:`~spinodoid.abc.sampler`      the generic sampler :func:`abc_pmc`: batches, tolerances,
                                   pruning, budget; no structures, CNN, files or torch
:mod:`~spinodoid.abc.kernels`      PMC importance weights, perturbation kernel and proposals
:mod:`~spinodoid.abc.rho`          the discrepancy ρ of eq. 10 and its lower bound
:mod:`~spinodoid.abc.reachability` refusing targets the prior cannot produce
:mod:`~spinodoid.abc.results`      :class:`Generation`, :class:`ABCResult`, weighted statistics
:mod:`~spinodoid.abc.store`        the per-generation files, read back and resumed
:mod:`~spinodoid.abc.seeds`        design seeds and per-candidate structure seeds
:mod:`~spinodoid.abc.simulators`   the simulators, one file each: the CNN (``simulators/cnn.py``)
                                   and the η(θ) emulator (``simulators/emulator.py``)
:mod:`~spinodoid.abc.design`       :func:`run_design`: prior + CNN simulator + sampler + outputs
:mod:`~spinodoid.abc.outputs`      posterior.csv, theta_hat.json, generations.csv
=================================  ============================================================

The simulator protocol
----------------------
A simulator is any callable

    ``simulate(theta, evaluation_index[, prune=...]) -> eta``

- ``theta``: float64 ``(B, d)``, candidates inside the prior's support (``B ≥ 0``; a call with
  ``B = 0`` must return an empty ``(0, k)`` array).
- ``evaluation_index``: int64 ``(B,)``, the number of each candidate within the run, counted from
  0 over the pilot and every generation, each index given once. A stochastic simulator derives
  its randomness from it (and a run seed), never from call order or a global generator, so that
  a run is a pure function of its seed and a resumed run equals an uninterrupted one; the CNN
  simulator uses :func:`evaluation_seeds` ``(base_seed, evaluation_index)`` as structure seeds.
- ``eta``: float64 ``(B, k)``, the simulated summary η' (k = 3 for η along x, y, z), positive;
  a non-finite row scores ρ = ∞ (never accepted).
- ``prune`` (optional keyword): a simulator whose signature has a parameter named ``prune`` is
  given ``prune(eta_so_far) -> bool (B,)`` whenever the sampler has a finite cut; ``eta_so_far``
  is ``(B, k)`` with NaN for components not yet simulated. The simulator may then skip the
  remaining components of the rows where it returns False and leave them NaN
  (:mod:`spinodoid.abc.sampler`, "Pruned evaluations"). Without the keyword the sampler never
  prunes.
- Counts: every row given is one evaluation (``evaluations``), whatever it returns; the non-NaN
  entries returned are the ``components_simulated`` (for the CNN: forward passes).
- Refusal: a row that is NaN throughout is a candidate the simulator refused (the CNN simulator
  refuses a structure whose pore or solid phase does not percolate in x, y and z, the
  dataset's acceptance rule); it scores ρ = ∞ and is counted in the generation's ``rejected``.

A new simulator is a new module in :mod:`spinodoid.abc.simulators`; the sampler does not change.
"""

from spinodoid.abc.design import SIMULATORS, run_design, simulator_of
from spinodoid.abc.kernels import (
    KERNELS,
    Perturbation,
    fit_perturbation,
    perturbation_proposer,
    pmc_weights,
)
from spinodoid.abc.outputs import (
    generations_table,
    read_design_status,
    read_posterior,
    read_theta_hat,
    write_design_outputs,
)
from spinodoid.abc.reachability import UnreachableTargetError, check_reachable
from spinodoid.abc.results import (
    PARAM_NAMES,
    ABCResult,
    Generation,
    weighted_quantiles,
)
from spinodoid.abc.rho import discrepancy, discrepancy_lower_bound
from spinodoid.abc.sampler import Simulator, abc_pmc
from spinodoid.abc.seeds import design_seed, evaluation_seeds
from spinodoid.abc.simulators.cnn import cnn_simulator
from spinodoid.abc.simulators.emulator import emulator_simulator
from spinodoid.abc.store import read_generations

__all__ = [
    "KERNELS",
    "ABCResult",
    "Generation",
    "PARAM_NAMES",
    "Perturbation",
    "SIMULATORS",
    "Simulator",
    "UnreachableTargetError",
    "abc_pmc",
    "check_reachable",
    "cnn_simulator",
    "design_seed",
    "emulator_simulator",
    "discrepancy",
    "discrepancy_lower_bound",
    "evaluation_seeds",
    "fit_perturbation",
    "generations_table",
    "perturbation_proposer",
    "pmc_weights",
    "read_generations",
    "read_design_status",
    "read_posterior",
    "read_theta_hat",
    "run_design",
    "simulator_of",
    "weighted_quantiles",
    "write_design_outputs",
]
