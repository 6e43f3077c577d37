"""Rule `report_validation`: validation and upscaling means of every target next to the paper's."""

import logging

import pandas as pd

from spinodoid.atomic import write_text_atomic
from spinodoid.plotting import table_html
from spinodoid.validation import combined_table, write_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

summaries = {
    (name, stage): pd.read_csv(path)
    for stage in ("validate", "upscale")
    for name, path in zip(snakemake.params.targets, snakemake.input[stage], strict=True)
}
table = combined_table(summaries)
write_table(table, snakemake.output.table)
note = "Paper (docs/method.md §6): 250 structures at N = 192 (validate), 10 at N = 576 (upscale)."
write_text_atomic(snakemake.output.html, table_html(table, "Mean η at the designed θ̂", note))
