"""Rule `round_solve`: structures drawn from one target's round posterior, solved along x, y and
z (spinodoid.rounds). Finished rows are kept in the rows file beside the output (not a declared
output), so a killed job resumes there."""

import logging

from spinodoid.abc import read_posterior
from spinodoid.rounds import round_seeds, round_theta, solve_round, write_round_solves
from spinodoid.solvers.backend import init_backend
from spinodoid.solvers.plan import SolverSettings
from spinodoid.validation import ResumableRows, make_solver

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

params, name = snakemake.params, snakemake.wildcards.target
round_index = int(snakemake.wildcards.round)
settings = SolverSettings.from_config({**snakemake.config["simulate"], **params.simulate})
if settings.solver in ("lbm", "multigrid"):  # taichi uses the job's threads, not every core
    init_backend(settings.arch, cpu_threads=snakemake.threads)
seeds = round_seeds(params.seed, name, round_index, params.structures)
particles, weights = read_posterior(snakemake.input.posterior)
theta = round_theta(particles, weights, params.structures, int(seeds[0]))
signature = {
    "theta": theta.tolist(),
    "seeds": seeds.tolist(),
    "size": params.size,
    "simulate": params.simulate,
}
rows = ResumableRows(params.rows, signature)
frame = solve_round(theta, seeds, params.size, make_solver(settings), rows)
logging.info(
    "round %d of %s: %d of %d accepted", round_index, name, frame.accepted.sum(), len(frame)
)
write_round_solves(frame, snakemake.output.solves)
