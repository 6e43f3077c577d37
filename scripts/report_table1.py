"""Rule `report_table1`: the CNN's error measures next to the paper's Table 1, as HTML."""

import logging

import pandas as pd

from spinodoid.io import atomic_path
from spinodoid.plotting import table_html

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

table = pd.read_csv(snakemake.input.evaluation)
note = "MSE of logit η and MAPE (%) per split and direction; paper columns from its Table 1."
tmp = atomic_path(snakemake.output.html)
tmp.write_text(table_html(table, "CNN error measures (paper Table 1)", note), encoding="utf-8")
tmp.rename(snakemake.output.html)
