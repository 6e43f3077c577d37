"""Rule `assemble`: gather shards and η into results/dataset.zarr, then summarise it."""

import logging
from pathlib import Path

from spinodoid.data import assemble_dataset, dataset_summary
from spinodoid.io import atomic_path

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
    attrs={"config": snakemake.params.config, "simulate": snakemake.params.simulate},
)
table = dataset_summary(store, Path(snakemake.output.eta_hist).parent)
tmp = atomic_path(snakemake.output.summary)
table.to_csv(tmp, index=False)
tmp.rename(snakemake.output.summary)
logging.info("summary:\n%s", table.to_string(index=False))
