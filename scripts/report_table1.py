"""Rule `report_table1`: the CNN's error measures next to the paper's Table 1, and the emulator's
beside them, as HTML."""

import logging

import pandas as pd

from spinodoid.formats.atomic import write_text_atomic
from spinodoid.plotting import table_html

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

tables = {"cnn": snakemake.input.evaluation, "emulator": snakemake.input.emulator}
table = pd.concat(
    [pd.read_csv(path).assign(model=name) for name, path in tables.items() if path],
    ignore_index=True,
)
table = table[["model", *[c for c in table.columns if c != "model"]]]
note = (
    "MSE of logit η and MAPE (%) per split and direction; paper columns from its Table 1. The "
    "emulator predicts the mean η at θ (fitted on train + val); seed_floor_percent is the MAPE a "
    "perfect mean would still have from the spread between structures of the same θ."
)
write_text_atomic(snakemake.output.html, table_html(table, "Error measures (paper Table 1)", note))
