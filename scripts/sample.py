"""Rule `sample`: fill one shard with bicontinuous structures (spinodoid.sampling)."""

import logging

from spinodoid.sampling import sample_shard
from spinodoid.shards import write_shard_h5

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

shard = sample_shard(
    shard=int(snakemake.wildcards.shard),
    shard_size=snakemake.params.shard_size,
    size=snakemake.params.size,
    base_seed=snakemake.params.seed,
    max_attempts_per_structure=snakemake.params.max_attempts,
)
write_shard_h5(shard, snakemake.output.shard)
