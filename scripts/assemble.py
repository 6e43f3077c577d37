"""Rule `assemble`: gather shards and η into results/dataset.zarr, then summarise it."""

import logging
from pathlib import Path

from spinodoid.formats.atomic import atomic_write
from spinodoid.formats.dataset import assemble_dataset, dataset_summary, read_labels
from spinodoid.plotting import dataset_figures

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

dataset = snakemake.params.dataset
store = assemble_dataset(
    snakemake.input.shards,
    snakemake.input.eta,
    snakemake.output.store,
    n_train=dataset["n_train"],
    n_val=dataset["n_val"],
    n_test=dataset["n_test"],
    split_seed=snakemake.params.seed,
    attrs={"config": snakemake.config, "simulate": snakemake.params.simulate},
)
table = dataset_summary(store)
with atomic_write(snakemake.output.summary) as tmp:
    table.to_csv(tmp, index=False)
eta, theta, _ = read_labels(store)
dataset_figures(eta, theta, Path(snakemake.output.eta_hist).parent)
logging.info("summary:\n%s", table.to_string(index=False))
