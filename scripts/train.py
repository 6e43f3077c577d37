"""Rule `train`: train the CNN on results/dataset.zarr, resuming from checkpoint.pt if present."""

import logging
import sys
from pathlib import Path

import torch

from spinodoid.surrogates.train import TrainConfig, train

log_file = open(snakemake.log[0], "a", encoding="utf-8")
sys.stderr = log_file  # the tqdm progress bar goes to the log too
logging.basicConfig(stream=log_file, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)

out_dir = {Path(p).parent for p in snakemake.output}
if len(out_dir) != 1:
    raise ValueError(f"best.pt, last.pt and metrics.csv must share a folder, got {out_dir}")
# params hold what changes the model; where and how fast it trains comes from the config
train_settings = {**snakemake.config["train"], **snakemake.params.train}
config = TrainConfig.from_config(train_settings, seed=snakemake.params.seed)
result = train(config, snakemake.input.dataset, out_dir.pop())
logging.info("%s", result)
