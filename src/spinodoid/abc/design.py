"""A design run: the paper's prior, a simulator (the CNN or the η(θ) emulator) and ABC-PMC for
one target, with outputs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from spinodoid.abc.outputs import write_design_outputs
from spinodoid.abc.reachability import check_reachable, validate_target
from spinodoid.abc.results import ABCResult
from spinodoid.abc.sampler import abc_pmc
from spinodoid.abc.simulators.cnn import cnn_simulator
from spinodoid.abc.simulators.emulator import emulator_simulator
from spinodoid.hashing import file_digest

__all__ = ["SIMULATORS", "run_design", "simulator_of"]

#: The simulators a design can use: the paper's CNN on a fresh structure per candidate, or the
#: emulator of η(θ) (spinodoid.surrogates.emulator), which draws η over the seed.
SIMULATORS: tuple[str, str] = ("cnn", "emulator")


def simulator_of(model_path: str | Path) -> str:
    """``"emulator"`` for an emulator file (.npz), ``"cnn"`` for a checkpoint (anything else)."""
    return "emulator" if Path(model_path).suffix == ".npz" else "cnn"


def run_design(
    model_path: str | Path,
    target: Sequence[float],
    out_dir: str | Path,
    *,
    particles: int = 512,
    log10_tolerances: Sequence[float] = (2.0, 1.75, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25, 0.0),
    tolerance_schedule: Literal["fixed", "adaptive"] = "fixed",
    min_tolerance_decrease: float = 0.005,
    batch_size: int = 256,
    max_evaluations: int = 5_000_000,
    device: str = "auto",
    seed: int = 0,
    name: str = "target",
    pilot_size: int | None = None,
    reference_eta: np.ndarray | None = None,
    precision: str = "fp32",
    kernel: str = "componentwise",
    kernel_log_a: bool = False,
    emulator_mode: str = "sample",
    progress: bool = True,
) -> ABCResult:
    """Design θ for a target η with the CNN or the emulator and the paper's prior; write the
    outputs. The simulator follows from ``model_path`` (:func:`simulator_of`).

    Writes ``out_dir/generations/gen_*.{csv,json}`` (resumable), ``out_dir/posterior.csv``,
    ``out_dir/theta_hat.json`` and ``out_dir/generations.csv`` (:func:`write_design_outputs`).

    Args:
        model_path: CNN checkpoint (its meta gives N), or an emulator file (``.npz``,
            :func:`spinodoid.surrogates.emulator.save_emulator`).
        target: (η_x, η_y, η_z), each in (0, 1).
        out_dir: output directory (created).
        particles: population size P (paper 512).
        log10_tolerances: log10 of the tolerances on ρ in percent (paper 2, 1.75, …, 0).
        tolerance_schedule: ``"fixed"`` or ``"adaptive"`` (see :func:`abc_pmc`).
        min_tolerance_decrease: the adaptive schedule's stall criterion (:func:`abc_pmc`).
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
        precision: the CNN's precision (ignored by the emulator), ``fp32`` (default), ``bf16``
            or ``fp16`` (:data:`spinodoid.surrogates.cnn.PRECISIONS`).
        kernel: ABC-PMC perturbation kernel, ``componentwise`` (the paper's) or
            ``correlated`` (:mod:`spinodoid.abc.kernels`).
        kernel_log_a: perturb the length scales a_x, a_y, a_z in log.
        emulator_mode: with the emulator, ``"sample"`` (a candidate's η drawn over the seed, the
            paper's posterior) or ``"mean"`` (ρ of the mean η at θ, so θ̂ targets the mean of
            the structures at it; :func:`spinodoid.abc.simulators.emulator.emulator_simulator`).
        progress: tqdm bars per generation.

    Returns:
        The :class:`ABCResult`.
    """
    from spinodoid.structures.prior import in_support, prior_density, sample_prior
    from spinodoid.surrogates.cnn import resolve_device

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = validate_target(target)
    if reference_eta is not None:
        check_reachable(target, reference_eta)
        pilot_size = 0
    device = str(resolve_device(device))
    simulator = simulator_of(model_path)
    if simulator == "emulator":
        simulate = emulator_simulator(model_path, seed, mode=emulator_mode)
    else:
        simulate = cnn_simulator(model_path, device, seed, precision=precision)
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
        min_tolerance_decrease=min_tolerance_decrease,
        kernel=kernel,
        log_columns=(0, 1, 2) if kernel_log_a else (),
        pilot_size=max(particles, 64) if pilot_size is None else pilot_size,
        out_dir=out / "generations",
        signature={
            "model": file_digest(model_path),
            "seed": seed,
            "precision": precision,
            **({"emulator_mode": emulator_mode} if emulator_mode != "sample" else {}),
        },
        progress=progress,
    )
    info = {
        "target": name,
        "seed": seed,
        "simulator": simulator,
        **({"emulator_mode": emulator_mode} if simulator == "emulator" else {}),
        "model": str(model_path),
        "device": device,
    }
    write_design_outputs(result, out, info)
    return result
