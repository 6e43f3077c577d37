"""Rule `emulate`: fit the emulator of η(θ) on the train and val splits of the dataset, and its
P(accepted | θ) on every candidate the sampler tried (the shards), and evaluate it on every
split (spinodoid.surrogates.emulator, spinodoid.surrogates.acceptance)."""

import logging

import torch

from spinodoid.formats.dataset import SPLITS, split_labels
from spinodoid.formats.shards import read_candidates
from spinodoid.surrogates.acceptance import fit_acceptance
from spinodoid.surrogates.emulator import (
    evaluation_table,
    fit_emulator,
    save_emulator,
    training_subset,
)
from spinodoid.validation import write_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
torch.set_num_threads(snakemake.threads)

theta, eta = training_subset(*split_labels(snakemake.input.dataset, ("train", "val")))
emulator = fit_emulator(
    theta,
    eta,
    seed=snakemake.params.seed,
    meta={"dataset": snakemake.input.dataset},
    acceptance=fit_acceptance(*read_candidates(snakemake.input.shards)),
)
save_emulator(emulator, snakemake.output.emulator)
splits = {name: split_labels(snakemake.input.dataset, (name,)) for name in SPLITS}
table = evaluation_table(emulator, splits)
logging.info("emulator on %d structures; evaluation:\n%s", len(theta), table.to_string())
write_table(table, snakemake.output.evaluation)
