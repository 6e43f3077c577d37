"""Rule `rejection_stats`: per-shard acceptance statistics of the rejection sampling."""

import logging

from spinodoid.formats.atomic import atomic_write
from spinodoid.structures.sampling import rejection_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

table = rejection_table(snakemake.input.shards)
with atomic_write(snakemake.output.table) as tmp:
    table.to_csv(tmp, index=False)
logging.info(
    "acceptance rate %.4f over %d shards", table.accepted.sum() / table.attempts.sum(), len(table)
)
