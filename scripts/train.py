"""Rule `train`: train the CNN on results/dataset.zarr, resuming from checkpoint.pt if present."""

import logging
import sys
from pathlib import Path

import torch

from spinodoid.train import TrainConfig, train

log_file = open(snakemake.log[0], "a", encoding="utf-8")
sys.stderr = log_file  # the tqdm progress bar goes to the log too
logging.basicConfig(stream=log_file, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)

out_dir = {Path(p).parent for p in snakemake.output}
if len(out_dir) != 1:
    raise ValueError(f"best.pt, last.pt and metrics.csv must share a folder, got {out_dir}")
config = TrainConfig.from_config(snakemake.params.train, seed=snakemake.params.seed)
result = train(config, snakemake.input.dataset, out_dir.pop())
logging.info("%s", result)
