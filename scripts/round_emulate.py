"""Rule `round_emulate`: the emulator refitted on the dataset's train and val structures and one
target's round solves so far, its P(accepted | θ) on the sampler's and the rounds' candidates
(spinodoid.rounds)."""

import logging

import torch

from spinodoid.formats.dataset import split_labels
from spinodoid.rounds import fit_round_acceptance, fit_round_emulator, read_round_solves
from spinodoid.surrogates.emulator import save_emulator

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
torch.set_num_threads(snakemake.threads)

dataset_theta, dataset_eta = split_labels(snakemake.input.dataset, ("train", "val"))
solved_theta, solved_eta = read_round_solves(snakemake.input.solves)
emulator = fit_round_emulator(
    dataset_theta,
    dataset_eta,
    solved_theta,
    solved_eta,
    seed=snakemake.params.seed,
    meta={"dataset": snakemake.input.dataset, "rounds": list(snakemake.input.solves)},
    acceptance=fit_round_acceptance(snakemake.input.shards, snakemake.input.solves),
)
save_emulator(emulator, snakemake.output.emulator)
