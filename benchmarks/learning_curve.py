"""Learning curve: test MAPE of the per-axis CNN, the joint CNN and the emulator against the
number of training structures, on one dataset's splits.

For each ``n`` of ``--sizes``, every model is fitted on the first ``n`` structures of the train
split and scored once on the whole test split: MAPE over the three directions (eq. 15), with the
fitting time on this machine. The emulator is fitted on the same ``n`` structures. Every CNN
sees the same number of training samples, ``--samples`` (so the curve measures data, not
compute: epochs = samples / training items, an item being a structure for the joint model and
one of its three axes for the per-axis one), and picks its best epoch on the first ``--val``
structures of the val split. The CNN recipe is the ``train`` section of ``--config`` at rate
10^``--log10-lr`` (``--recipe adamw``: AdamW, 10 % warm-up, cosine decay; ``--recipe paper``:
SGD with momentum at constant rate), with ``--normalization`` after every convolution (``none``,
the paper's, or ``batch``); ``--models`` picks which of ``per-axis``, ``joint``, ``emulator``
run.

Usage: python benchmarks/learning_curve.py --dataset results/dataset.zarr --config
       config/learning-curve.yaml [--sizes 72 256 1024] [--samples 15000] [--recipe adamw]
       [--normalization batch] [--json OUT.json] [--figure OUT.png [--with EARLIER.json ...]]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.utils.data import Subset

from spinodoid.formats.dataset import split_labels
from spinodoid.plotting import learning_curve_figure, save_figure
from spinodoid.surrogates.cnn import load_model
from spinodoid.surrogates.emulator import fit_emulator, mape_per_direction
from spinodoid.surrogates.evaluation import equivariance_gap, evaluation_table, predict_splits
from spinodoid.surrogates.train import TrainConfig, train
from spinodoid.surrogates.training_data import SpinodoidDataset

RECIPES = {
    "adamw": {"optimizer": "adamw", "weight_decay": 1e-4, "lr_schedule": "cosine"},
    "paper": {"optimizer": "sgd", "lr_schedule": "phases"},
}


def cnn_point(dataset: Path, config: dict, n: int, joint: bool, args) -> dict:
    """Train one CNN on the first ``n`` training structures; its test MAPE and time."""
    per = 1 if joint else 3
    epochs = math.ceil(args.samples / (per * n))
    recipe = dict(RECIPES[args.recipe])
    if recipe["lr_schedule"] == "cosine":
        recipe["warmup_epochs"] = max(1, epochs // 10)
    settings = {
        **config["train"],
        **recipe,
        "schedule": [{"epochs": epochs, "log10_lr": args.log10_lr}],
        "joint_axes": joint,
        "normalization": args.normalization,
        "batch_size": args.batch_size,
    }
    cfg = TrainConfig.from_config(settings, seed=config["seed"])
    train_set = Subset(SpinodoidDataset(dataset, "train", True, joint), range(per * n))
    val_set = Subset(SpinodoidDataset(dataset, "val", True, joint), range(per * args.val))
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = train(cfg, dataset, out, train_set=train_set, val_set=val_set)
        seconds = time.perf_counter() - start
        model, _ = load_model(Path(out) / "best.pt")
    predictions = predict_splits(model, dataset, splits=("train", "test"))
    fitted = predictions[predictions["split"] == "train"].head(3 * n)  # structure by structure
    mape = evaluation_table(predictions).set_index(["split", "direction"])["mape_percent"]
    point = {
        "model": "joint CNN" if joint else "per-axis CNN",
        "train": n,
        "recipe": args.recipe,
        "normalization": args.normalization,
        "epochs": epochs,
        "samples": args.samples,
        "test_mape": round(float(mape["test", "all"]), 3),
        "train_mape": round(float(evaluation_table(fitted)["mape_percent"].iloc[-1]), 3),
        "best_epoch": result.best_epoch,
        "seconds": round(seconds, 1),
    }
    if joint:
        point["equivariance_gap"] = round(equivariance_gap(model, dataset), 3)
    return point


def emulator_point(dataset: Path, n: int) -> dict:
    """Fit the emulator on the first ``n`` training structures; its test MAPE and time."""
    theta, eta = split_labels(dataset, ("train",))
    theta_test, eta_test = split_labels(dataset, ("test",))
    start = time.perf_counter()
    emulator = fit_emulator(theta[:n], eta[:n])
    seconds = round(time.perf_counter() - start, 1)
    mean, _ = emulator.predict(theta_test)
    mape = float(np.mean(mape_per_direction(mean, eta_test)))
    return {
        "model": "emulator",
        "train": n,
        "test_mape": round(mape, 3),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[72, 256, 1024])
    parser.add_argument("--models", nargs="+", default=["per-axis", "joint", "emulator"])
    parser.add_argument("--recipe", choices=list(RECIPES), default="adamw")
    parser.add_argument("--normalization", choices=["none", "batch"], default="batch")
    parser.add_argument("--samples", type=int, default=15_000)
    parser.add_argument("--val", type=int, default=32)
    parser.add_argument("--log10-lr", type=float, default=-3.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--figure", type=Path, help="also draw the curve here (.png)")
    parser.add_argument(
        "--with", dest="earlier", type=Path, nargs="*", default=[],
        help="JSON files of earlier runs whose points join the figure",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(args.config.read_text())
    available = len(SpinodoidDataset(args.dataset, "train").indices)
    points = []
    for n in args.sizes:
        if n > available:
            print(f"skipping n = {n}: the train split has {available} structures")
            continue
        for name in args.models:
            if name == "emulator":
                point = emulator_point(args.dataset, n)
            else:
                point = cnn_point(args.dataset, config, n, name == "joint", args)
            points.append(point)
            print(json.dumps(point), flush=True)
            if args.json:
                args.json.write_text(json.dumps(points, indent=1))
    earlier = [point for path in args.earlier for point in json.loads(path.read_text())]
    if args.figure and earlier + points:
        save_figure(learning_curve_figure(earlier + points), args.figure)


if __name__ == "__main__":
    main()
