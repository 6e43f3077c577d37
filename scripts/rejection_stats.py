"""Rule `rejection_stats`: per-shard acceptance statistics of the rejection sampling."""

import logging

from spinodoid.io import atomic_path
from spinodoid.sampling import rejection_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

table = rejection_table(snakemake.input.shards)
tmp = atomic_path(snakemake.output.table)
table.to_csv(tmp, index=False)
tmp.rename(snakemake.output.table)
logging.info(
    "acceptance rate %.4f over %d shards", table.accepted.sum() / table.attempts.sum(), len(table)
)
