"""An ABC simulator built on the η(θ) emulator (:mod:`spinodoid.surrogates.emulator`), beside the
CNN's.

:func:`emulator_simulator` returns a function with the call protocol of the one
:func:`spinodoid.abc.cnn_simulator` returns, ``simulate(theta (B, 4), evaluation_index (B,),
prune=None) -> eta (B, 3)``, so :func:`spinodoid.abc.abc_pmc` runs it unchanged: the sampler
keeps the exact evaluation counts, the budget stop, the reachability pilot and refusal, resuming
and pruning.

Modes
-----
``"sample"`` (default): candidate ``k`` of the run gets the structure seed
``s = evaluation_seeds(base_seed, k)``, exactly as the CNN simulator seeds its structure, and
the emulator draws η for it from its predictive distribution over structures,

    η_i = sigmoid(μ_i(θ) + σ_n · Z_i),   Z = L N,   N_k ~ N(0, 1) independent,

with ``N_k`` a pure function of ``(s, k)`` (Box–Muller on two 32-bit hashes of the seed,
:func:`seed_normals`) and ``L`` the Cholesky factor of the axes' correlation matrix
(:meth:`spinodoid.surrogates.emulator.Emulator.axis_mixing`): one structure's η_x, η_y, η_z
share its seed, so their seed effects correlate as the training structures' do. ``L`` is lower
triangular, so ``Z_x`` needs ``N_0`` only and a pruned candidate's later axes are never drawn.
This is the paper's posterior with the CNN and the generated structure
replaced by the emulator: the seed's effect on η is part of what ρ ≤ τ must overcome, and a
candidate is a (virtual) structure, not a θ.

``"mean"``: η = E[η | θ] over structures (:meth:`spinodoid.surrogates.emulator.Emulator.predict`);
the
posterior is then that of a deterministic simulator, concentrated on the set of θ whose mean η
meets the tolerance.

Which to use (measured). On a toy emulator (``tests/test_emulator_simulator.py``) both modes
give the posterior of plain ABC rejection; at τ = 1 %, below the seed's effect on ρ, over 30 %
of the sample-mode particles have a mean η that misses τ (their draw met it), and the sample
posterior leans to θ with a small spread (large ε), since those meet τ more often. On the
N = 64 data (emulator on 96 structures, case 1, η = (0.40, 0.50, 0.60), P = 512, nine
tolerances 10² … 10⁰ %): θ̂ = (0.0857, 0.1315, 0.2325, 0.6602) in sample mode and
(0.0868, 0.1336, 0.2398, 0.6606) in mean mode (1–3 % apart, posterior stds equal within 7 %),
250 368 and 238 080 evaluations, 5.7 s each on one loaded core; 8 solver structures at θ̂ gave
mean η (0.4035, 0.5064, 0.5980), MAPE 0.83 % to the target, and (0.4021, 0.5059, 0.5994),
0.60 %. The difference is within the validation's own noise: η's spread between structures,
0.004–0.008 (the emulator predicted 0.006–0.010), puts ±0.003 on each 8-structure mean.
``"sample"`` is the default because it is the paper's posterior (the CNN simulator, too, sees a
fresh structure per candidate); ``"mean"`` designs the mean η directly and is the choice when
only θ̂ matters.

The acceptance rule
-------------------
The CNN simulator gives a candidate whose structure fails the dataset's acceptance rule a NaN
row (ρ = ∞). When the emulator carries a P(accepted | θ) model
(:mod:`spinodoid.surrogates.acceptance`), candidate ``k`` is rejected the same way when
``u_k ≥ P(accepted | θ_k)``, with ``u_k`` uniform on (0, 1) a pure function of its structure
seed (its own hash stream), in both modes, so the two simulators target the same posterior. An
emulator without the model (format 1) accepts every candidate.

Pruning
-------
Given ``prune``, the simulator predicts η along x for every candidate, then along y only for the
candidates ``prune`` keeps, then along z only for those it still keeps (NaN elsewhere), the same
order as the CNN simulator. The emulator's η of a candidate does not depend on the other rows of
its call, so pruned and unpruned runs agree bit for bit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy.special import expit

from spinodoid.abc.sampler import Simulator
from spinodoid.abc.seeds import evaluation_seeds
from spinodoid.surrogates.emulator import Emulator, load_emulator

__all__ = ["emulator_simulator", "seed_accepted", "seed_normals"]

logger = logging.getLogger(__name__)

Mode = Literal["sample", "mean"]

_NOISE_STREAM = 0xE6A1_7000  # streams of the two uniforms of direction i: _NOISE_STREAM + 2i (+1)
_ACCEPT_STREAM = 0xACC3_0000  # stream of the uniform that decides a candidate's acceptance


def seed_normals(seeds: np.ndarray, axis: int) -> np.ndarray:
    """Standard normal draws, one per structure seed, for one axis (Box–Muller).

    Args:
        seeds: structure seeds, shape (B,) int64, ≥ 0.
        axis: 0, 1 or 2 (x, y, z): independent draws per axis.

    Returns:
        Shape (B,) float64; a pure function of ``(seed, axis)``.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    u1 = (evaluation_seeds(_NOISE_STREAM + 2 * axis, seeds) + 0.5) / 2.0**32
    u2 = (evaluation_seeds(_NOISE_STREAM + 2 * axis + 1, seeds) + 0.5) / 2.0**32
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def seed_accepted(seeds: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """Whether each structure seed's candidate passes, given P(accepted | θ): ``u < p``, with
    ``u`` uniform on (0, 1) a pure function of the seed; (B,) int64 and (B,) float → (B,) bool."""
    u = (evaluation_seeds(_ACCEPT_STREAM, np.asarray(seeds, dtype=np.int64)) + 0.5) / 2.0**32
    return u < np.asarray(probability, dtype=np.float64)


def emulator_simulator(
    emulator: Emulator | str | os.PathLike[str], base_seed: int = 0, mode: Mode = "sample"
) -> Simulator:
    """The emulator as an ABC simulator (module docstring).

    Args:
        emulator: a fitted :class:`~spinodoid.surrogates.emulator.Emulator` or its ``.npz`` file.
        base_seed: the run's seed (e.g. :func:`spinodoid.abc.design_seed`).
        mode: ``"sample"`` (η drawn over the seed) or ``"mean"`` (E[η | θ]).

    Returns:
        ``simulate(theta (B, 4) float64, evaluation_index (B,) int64, prune=None) -> eta (B, 3)
        float64``.
    """
    if mode not in ("sample", "mean"):
        raise ValueError(f"mode must be 'sample' or 'mean', got {mode!r}")
    model = emulator if isinstance(emulator, Emulator) else load_emulator(emulator)
    logger.info("emulator simulator (%s): %s", mode, model.meta.get("model", "?"))
    mixing = model.axis_mixing()

    def axis_eta(theta: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
        if mode == "mean":
            return model.predict(theta, axes=(axis,))[0][:, 0]
        mu, sigma = model.predict_logit(theta, axes=(axis,))
        seeds = evaluation_seeds(base_seed, index)
        z = sum(mixing[axis, k] * seed_normals(seeds, k) for k in range(axis + 1))
        return expit(mu[:, 0] + sigma[:, 0] * z)

    def simulate(
        theta: np.ndarray,
        evaluation_index: np.ndarray,
        prune: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        theta = np.asarray(theta, dtype=np.float64).reshape(-1, 4)
        index = np.asarray(evaluation_index, dtype=np.int64)
        eta = np.full((len(theta), 3), np.nan)
        active = np.arange(len(theta))
        if model.acceptance is not None:
            seeds = evaluation_seeds(base_seed, index)
            active = active[seed_accepted(seeds, model.acceptance.probability(theta))]
        for axis in range(3):
            if len(active):
                eta[active, axis] = axis_eta(theta[active], index[active], axis)
            if prune is not None and axis < 2:
                active = active[np.asarray(prune(eta), dtype=bool)[active]]
        return eta

    return simulate
