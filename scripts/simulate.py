"""Rule `simulate`: η in x, y, z for every structure of one shard, one batched solve each.

A structure whose solve fails (not converged, disconnected) is flagged (converged False, η NaN)
and logged rather than ending the job, so the rest of the shard is kept and `assemble` refuses
it by name.
"""

import logging

import h5py
import numpy as np
from tqdm import tqdm

from spinodoid.diffusivity import DiffusivityError, effective_diffusivity_xyz
from spinodoid.io import atomic_path
from spinodoid.lbm import init_backend
from spinodoid.sampling import read_shard_h5
from spinodoid.structure import level_set

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
log = logging.getLogger("simulate")
params = dict(snakemake.params.simulate)
if params["solver"] in ("lbm", "multigrid"):  # taichi uses the job's threads, not every core
    init_backend(params["arch"], cpu_threads=snakemake.threads)
shard = read_shard_h5(snakemake.input.shard)
fields = ("eta", "converged", "iterations", "flux_nonuniformity", "seconds")
out = {name: np.zeros((len(shard.seed), 3)) for name in fields}
for k in tqdm(range(len(shard.seed)), desc="simulate", mininterval=10):
    psi = None
    if params["interface"] == "subvoxel":  # regenerate Ψ − T; the dispatcher checks it
        psi = level_set(shard.theta[k], int(shard.seed[k]), shard.size)
    try:
        results = effective_diffusivity_xyz(shard.structures[k], level_set=psi, **params)
    except DiffusivityError as error:
        log.error("structure %d/%d flagged: %s", k + 1, len(shard.seed), error)
        out["eta"][k] = np.nan
        continue
    for name in fields:
        out[name][k] = [getattr(r, name) for r in results]
    log.info("structure %d/%d: eta %s", k + 1, len(shard.seed), np.round(out["eta"][k], 5))
tmp = atomic_path(snakemake.output.eta)
with h5py.File(tmp, "w") as h5:
    for name, dtype in zip(fields, ("f8", "?", "i8", "f8", "f8"), strict=True):
        h5.create_dataset(name, data=out[name].astype(dtype))
    h5.attrs.update(solver=params["solver"], interface=params["interface"], shard=shard.index)
tmp.replace(snakemake.output.eta)
