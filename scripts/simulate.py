"""Rule `simulate`: η in x, y, z for every structure of one shard (spinodoid.simulation)."""

import logging

from spinodoid.formats.eta_files import write_eta_h5
from spinodoid.formats.shards import read_shard_h5
from spinodoid.simulation import simulate_shard
from spinodoid.solvers.backend import init_backend

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
# params hold what changes η; where it runs (simulate.arch) comes from the config
params = {**snakemake.config["simulate"], **snakemake.params.simulate}
if params["solver"] in ("lbm", "multigrid"):  # taichi uses the job's threads, not every core
    init_backend(params["arch"], cpu_threads=snakemake.threads)
write_eta_h5(simulate_shard(read_shard_h5(snakemake.input.shard), params), snakemake.output.eta)
