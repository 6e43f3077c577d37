"""Rule `simulate`: η in x, y, z for every structure of one shard (SPEC §3)."""

import logging

import h5py
import numpy as np
from tqdm import tqdm

from spinodoid.diffusivity import effective_diffusivity
from spinodoid.io import atomic_path
from spinodoid.sampling import read_shard_h5
from spinodoid.structure import level_set

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
params = dict(snakemake.params.simulate)
shard = read_shard_h5(snakemake.input.shard)
fields = ("eta", "converged", "iterations", "flux_nonuniformity", "seconds")
out = {name: np.zeros((len(shard.seed), 3)) for name in fields}
for k in tqdm(range(len(shard.seed)), desc="simulate", mininterval=10):
    voxels = shard.structures[k]
    psi = None
    if params["interface"] == "subvoxel":  # regenerate Ψ − T; the dispatcher checks it
        psi = level_set(shard.theta[k], int(shard.seed[k]), shard.size)  # thresholds to voxels
    for axis in range(3):
        r = effective_diffusivity(voxels, axis, level_set=psi, **params)
        for name in fields:
            out[name][k, axis] = getattr(r, name)
tmp = atomic_path(snakemake.output.eta)
with h5py.File(tmp, "w") as h5:
    for name, dtype in zip(fields, ("f8", "?", "i8", "f8", "f8"), strict=True):
        h5.create_dataset(name, data=out[name].astype(dtype))
    h5.attrs.update(solver=params["solver"], interface=params["interface"], shard=shard.index)
tmp.replace(snakemake.output.eta)
