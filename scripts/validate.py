"""Rule `validate`: η by the solver and the CNN for structures at θ̂ with fresh seeds (SPEC §6)."""

import logging

import torch

from spinodoid.lbm import init_backend
from spinodoid.model import load_model, resolve_device
from spinodoid.plotting import save_figure, validation_figure
from spinodoid.validation import (
    SolverSettings,
    derived_seeds,
    make_solver,
    paper_results_for,
    read_theta_hat,
    summarize,
    validate_structures,
    write_table,
)

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
torch.set_num_threads(snakemake.threads)

params, target = snakemake.params, snakemake.params.target
seeds = derived_seeds(params.seed, snakemake.wildcards.target, "validate", params.structures)
device = resolve_device(params.device)
model, _ = load_model(snakemake.input.model, device)
settings = SolverSettings.from_config(params.simulate)
if settings.solver in ("lbm", "multigrid"):  # taichi uses the job's threads, not every core
    init_backend(settings.arch, cpu_threads=snakemake.threads)
solve = make_solver(settings)
theta = read_theta_hat(snakemake.input.theta_hat)
frame = validate_structures(theta, seeds, params.size, solve, model, device)
write_table(frame, snakemake.output.table)
write_table(summarize(frame, target, "solver"), snakemake.output.summary)
paper = paper_results_for(target)
save_figure(validation_figure(frame, target, paper[1] if paper else None), snakemake.output.figure)
