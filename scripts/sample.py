"""Rule `sample`: fill one shard with bicontinuous structures (spinodoid.structures.sampling)."""

import logging

from spinodoid.formats.shards import write_shard_h5
from spinodoid.structures.sampling import sample_shard

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

shard = sample_shard(
    shard=int(snakemake.wildcards.shard),
    shard_size=snakemake.params.shard_size,
    size=snakemake.params.size,
    base_seed=snakemake.params.seed,
    max_attempts_per_structure=snakemake.params.max_attempts,
)
write_shard_h5(shard, snakemake.output.shard)
