"""Rule `check_designs`: the status of every design; fails naming the incomplete ones, unless
design.accept_incomplete (spinodoid.validation.design_status_table)."""

import logging

from spinodoid.abc import read_design_status
from spinodoid.validation import design_status_table, write_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

statuses = {
    name: read_design_status(path)
    for name, path in zip(snakemake.params.targets, snakemake.input.theta_hat, strict=True)
}
try:
    table = design_status_table(statuses, snakemake.params.accept_incomplete)
except Exception:
    logging.exception("incomplete design")
    raise
write_table(table, snakemake.output.table)
