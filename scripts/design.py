"""Rule `design`: ABC-PMC inverse design of θ for one target η (spinodoid.abc.run_design).

The per-generation files go to results/design/{target}/generations/ (not a declared output,
so Snakemake keeps them and a rerun resumes after the last complete generation). A run that
exhausts design.max_evaluations, or whose adaptive tolerance stalls above the last one, still
writes its outputs, with status "budget_exhausted" or "tolerance_floor" in theta_hat.json and a
warning in the log. Reachability of the target is judged against the solver η of the dataset
(structures drawn from the prior), not against the CNN.
"""

import logging
from pathlib import Path

import torch

from spinodoid.abc import design_seed, run_design, simulator_of
from spinodoid.formats.dataset import read_labels

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
torch.set_num_threads(snakemake.threads)

cfg = snakemake.params.design
name = snakemake.wildcards.target
run_design(
    snakemake.input.model,
    snakemake.params.eta,
    Path(snakemake.output.theta_hat).parent,
    particles=cfg["particles"],
    log10_tolerances=cfg["log10_tolerances"],
    tolerance_schedule=cfg["tolerance_schedule"],
    min_tolerance_decrease=cfg["min_tolerance_decrease"],
    batch_size=cfg["batch_size"],
    max_evaluations=cfg["max_evaluations_per_simulator"].get(
        simulator_of(snakemake.input.model), cfg["max_evaluations"]
    ),
    device=snakemake.config["design"]["device"],
    precision=cfg["precision"],
    kernel=cfg["kernel"],
    kernel_log_a=cfg["kernel_log_a"],
    emulator_mode=cfg["emulator_mode"],
    seed=design_seed(snakemake.params.seed, name),
    name=name,
    reference_eta=read_labels(snakemake.input.dataset)[0],
    progress=False,
)
