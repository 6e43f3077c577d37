"""Rule `evaluate`: Table 1 (MSE of logit η, MAPE %) per split and direction, and Fig. 5."""

import logging
import sys

import torch

from spinodoid.formats.atomic import atomic_write
from spinodoid.plotting import parity_figure, save_figure
from spinodoid.surrogates.cnn import load_model, resolve_device
from spinodoid.surrogates.evaluation import equivariance_gap, evaluation_table, predict_splits

log_file = open(snakemake.log[0], "a", encoding="utf-8")
sys.stderr = log_file
logging.basicConfig(stream=log_file, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)

device = resolve_device(snakemake.config["train"]["device"])
model, meta = load_model(snakemake.input.model, device)
predictions = predict_splits(model, snakemake.input.dataset, device=device)
gap = equivariance_gap(model, snakemake.input.dataset, device=device) if model.joint_axes else None
table = evaluation_table(predictions, gap)
logging.info("best epoch %s; Table 1:\n%s", meta.get("epoch"), table.to_string(index=False))

with atomic_write(snakemake.output.table) as tmp:
    table.to_csv(tmp, index=False)
save_figure(parity_figure(predictions, "test"), snakemake.output.parity, dpi=150)
