"""Rule `check_spread`: the seed spread of η at a target's θ̂, measured between its validation
structures against the emulator's prediction (spinodoid.validation.spread_table)."""

import logging

import pandas as pd

from spinodoid.abc import read_theta_hat
from spinodoid.surrogates.emulator import load_emulator
from spinodoid.validation import spread_table, write_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

theta = read_theta_hat(snakemake.input.theta_hat)
mean, spread = load_emulator(snakemake.input.emulator).predict(theta[None])
table = spread_table(pd.read_csv(snakemake.input.table), mean[0], spread[0])
logging.info("seed spread at theta-hat:\n%s", table.to_string())
write_table(table, snakemake.output.spread)
