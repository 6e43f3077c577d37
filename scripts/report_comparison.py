"""Rule `report_comparison`: the CNN's and the emulator's designs of every target side by side,
each θ̂ checked by the solver (spinodoid.validation.comparison_table)."""

import json
import logging

import pandas as pd

from spinodoid.formats.atomic import write_text_atomic
from spinodoid.plotting import table_html
from spinodoid.validation import comparison_table, write_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

simulators = snakemake.params.simulators
keys = [(name, sim) for name in snakemake.params.targets for sim in simulators]
designs = []
for (name, sim), theta_path, table_path in zip(
    keys, snakemake.input.theta_hat, snakemake.input.validate, strict=True
):
    with open(theta_path, encoding="utf-8") as handle:
        designs.append((name, sim, json.load(handle), pd.read_csv(table_path)))
table = comparison_table(designs, snakemake.params.targets)
write_table(table, snakemake.output.table)
note = (
    f"Each target designed by ABC-PMC with {' and '.join(simulators)}; η is the solver's mean over "
    "the validation structures at each θ̂ (the same seeds for both)."
)
write_text_atomic(snakemake.output.html, table_html(table, "Designs side by side", note))
