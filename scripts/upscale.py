"""Rule `upscale`: solver η of structures N·factor wide with a / factor at θ̂ (docs/method.md §6).

Structures are drawn under the dataset's acceptance rule; each finished structure is kept in
results/upscale/{target}.rows.json (not a declared output), so a killed job resumes there.
"""

import logging

from spinodoid.abc import read_theta_hat
from spinodoid.solvers.backend import init_backend
from spinodoid.solvers.plan import SolverSettings
from spinodoid.validation import (
    ResumableRows,
    accepted_rows,
    derived_seeds,
    make_solver,
    rejected_rows,
    summarize,
    upscale_structures,
    write_table,
)

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

params, name = snakemake.params, snakemake.wildcards.target
candidates = derived_seeds(params.seed, name, "upscale", params.structures * params.max_attempts)
settings = SolverSettings.from_config({**snakemake.config["simulate"], **params.simulate})
if settings.solver in ("lbm", "multigrid"):  # taichi uses the job's threads, not every core
    init_backend(settings.arch, cpu_threads=snakemake.threads)
theta = read_theta_hat(snakemake.input.theta_hat)
signature = {
    "theta": theta.tolist(),
    "size": params.size,
    "factor": params.factor,
    "seed": params.seed,
    "simulate": params.simulate,
}
frame = upscale_structures(
    theta,
    candidates,
    params.size,
    params.factor,
    make_solver(settings),
    settings,
    snakemake.config["upscale"]["max_memory_gib"],
    count=params.structures,
    rows=ResumableRows(params.rows, signature),
)
write_table(accepted_rows(frame), snakemake.output.table)
write_table(rejected_rows(frame), snakemake.output.rejected)
write_table(summarize(frame, params.target, "upscale"), snakemake.output.summary)
