"""Rule `upscale`: solver η of structures N·factor wide with a / factor at θ̂ (SPEC §6)."""

import logging

from spinodoid.lbm import init_backend
from spinodoid.validation import (
    SolverSettings,
    derived_seeds,
    make_solver,
    read_theta_hat,
    summarize,
    upscale_structures,
    write_table,
)

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

params = snakemake.params
seeds = derived_seeds(params.seed, snakemake.wildcards.target, "upscale", params.structures)
settings = SolverSettings.from_config(params.simulate)
if settings.solver in ("lbm", "multigrid"):  # taichi uses the job's threads, not every core
    init_backend(settings.arch, cpu_threads=snakemake.threads)
frame = upscale_structures(
    read_theta_hat(snakemake.input.theta_hat),
    seeds,
    params.size,
    params.factor,
    make_solver(settings),
    settings,
    params.max_memory_gib,
)
write_table(frame, snakemake.output.table)
write_table(summarize(frame, params.target, "upscale"), snakemake.output.summary)
