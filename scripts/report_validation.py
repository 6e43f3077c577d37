"""Rule `report_validation`: validation and upscaling means of every target next to the paper's,
with each design's status (an incomplete design is marked on its rows)."""

import logging

import pandas as pd

from spinodoid.abc import read_design_status
from spinodoid.formats.atomic import write_text_atomic
from spinodoid.plotting import table_html
from spinodoid.validation import combined_table, write_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

targets = snakemake.params.targets
summaries = {
    (name, stage): pd.read_csv(path)
    for stage in ("validate", "upscale")
    for name, path in zip(targets, snakemake.input[stage], strict=True)
}
status = {
    name: read_design_status(path)["status"]
    for name, path in zip(targets, snakemake.input.theta_hat, strict=True)
}
table = combined_table(summaries, status)
write_table(table, snakemake.output.table)
note = "Paper (docs/method.md §6): 250 structures at N = 192 (validate), 10 at N = 576 (upscale)."
if any(value != "completed" for value in status.values()):
    note += (
        " A design_status other than 'completed' marks a design that stopped above its last"
        " tolerance: 'tolerance_floor', at the closest the prior lets the simulator come;"
        " 'budget_exhausted', out of evaluations."
    )
write_text_atomic(snakemake.output.html, table_html(table, "Mean η at the designed θ̂", note))
