"""Rule `report_generations`: one target's ABC-PMC generations as an HTML table."""

import logging

import pandas as pd

from spinodoid.abc import generations_table
from spinodoid.formats.atomic import write_text_atomic
from spinodoid.plotting import table_html

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

table = generations_table(pd.read_csv(snakemake.input.generations))
target = tuple(snakemake.params.target)
title = f"{snakemake.wildcards.target}: ABC-PMC generations, target η = {target}"
note = (
    "Tolerance on ρ of eq. 10; passes / evaluation: CNN forward passes per candidate (3 unless "
    "the candidate was pruned after x or y); means weighted by the particle weights."
)
write_text_atomic(snakemake.output.html, table_html(table, title, note))
