# Shared helpers: config validation (before any rule runs), derived constants, final outputs.
import math

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")


N_STRUCTURES = sum(config["dataset"][f"n_{split}"] for split in ("train", "val", "test"))
N_SHARDS = math.ceil(N_STRUCTURES / config["sample"]["shard_size"])
SHARDS = [f"{shard:05d}" for shard in range(N_SHARDS)]
TARGETS = {target["name"]: target["eta"] for target in config["targets"]}

if len(TARGETS) != len(config["targets"]):
    raise ValueError("config targets: every target needs a unique name")


wildcard_constraints:
    shard=r"\d{5}",
    target=r"[A-Za-z0-9_-]+",


def get_final_output():
    """Every file the full pipeline produces for this config."""
    per_target = [
        "results/design/{target}/theta_hat.json",
        "results/validate/{target}.csv",
        "results/upscale/{target}.csv",
        "results/export/{target}.stl",
        "results/figures/{target}_posterior.png",
        "results/design/{target}/generations.html",
        "results/figures/{target}_renders.png",
    ]
    return [
        "results/sample/rejection_stats.csv",
        "results/dataset.zarr",
        "results/dataset/summary.csv",
        "results/model/best.pt",
        "results/model/metrics.csv",
        "results/model/evaluation.csv",
        "results/figures/examples.png",
        "results/validate/summary.html",
        "results/model/table1.html",
        *expand(per_target, target=TARGETS),
    ]
