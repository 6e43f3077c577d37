"""Rule `report_table1`: the CNN's error measures next to the paper's Table 1, as HTML."""

import logging

import pandas as pd

from spinodoid.atomic import write_text_atomic
from spinodoid.plotting import table_html

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

table = pd.read_csv(snakemake.input.evaluation)
note = "MSE of logit η and MAPE (%) per split and direction; paper columns from its Table 1."
write_text_atomic(
    snakemake.output.html, table_html(table, "CNN error measures (paper Table 1)", note)
)
