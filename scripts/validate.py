"""Rule `validate`: solver and CNN η of structures at θ̂ with fresh seeds (docs/method.md §6).

Structures are drawn under the dataset's acceptance rule; each finished structure is kept in
results/validate/{target}.rows.json (not a declared output), so a killed job resumes there.
"""

import logging

import torch

from spinodoid.abc import read_theta_hat
from spinodoid.hashing import file_digest
from spinodoid.plotting import save_figure, validation_figure
from spinodoid.solvers.backend import init_backend
from spinodoid.solvers.plan import SolverSettings
from spinodoid.surrogates.cnn import load_model, resolve_device
from spinodoid.validation import (
    ResumableRows,
    accepted_rows,
    derived_seeds,
    make_solver,
    paper_results_for,
    rejected_rows,
    summarize,
    validate_structures,
    write_table,
)

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
torch.set_num_threads(snakemake.threads)

params, target, name = snakemake.params, snakemake.params.target, snakemake.wildcards.target
candidates = derived_seeds(params.seed, name, "validate", params.structures * params.max_attempts)
device = resolve_device(snakemake.config["design"]["device"])
# No CNN when no design uses it (the workflow then trains none): solver η only.
model_path = snakemake.input.model or None
model = load_model(model_path, device)[0] if model_path else None
settings = SolverSettings.from_config({**snakemake.config["simulate"], **params.simulate})
if settings.solver in ("lbm", "multigrid"):  # taichi uses the job's threads, not every core
    init_backend(settings.arch, cpu_threads=snakemake.threads)
theta = read_theta_hat(snakemake.input.theta_hat)
signature = {
    "theta": theta.tolist(),
    "size": params.size,
    "seed": params.seed,
    "simulate": params.simulate,
    "model": file_digest(model_path) if model_path else None,
}
rows = ResumableRows(snakemake.params.rows, signature)
frame = validate_structures(
    theta,
    candidates,
    params.size,
    make_solver(settings),
    model,
    device,
    count=params.structures,
    rows=rows,
)
write_table(accepted_rows(frame), snakemake.output.table)
write_table(rejected_rows(frame), snakemake.output.rejected)
write_table(summarize(frame, target, "solver"), snakemake.output.summary)
paper = paper_results_for(target)
figure = validation_figure(accepted_rows(frame), target, paper[1] if paper else None)
save_figure(figure, snakemake.output.figure)
