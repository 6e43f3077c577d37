"""Training-recipe probe: can the CNN fit a small dataset, and what stops it?

Trains the paper's network (:class:`spinodoid.surrogates.cnn.SpinodoidCNN`, joint model of
η_x, η_y, η_z) on a dataset's whole train split held in memory, in a plain loop (no
checkpoints, no best-epoch selection), and prints every five epochs the training loss (MSE of
logit η on the augmented batches), the MAPE (eq. 15) on the un-augmented train split and on
the test split, and the seconds so far. The switches are the recipe's suspects:

- ``--augment`` / ``--no-augment``: the cube's 48 symmetries with the labels permuted
  (:func:`spinodoid.surrogates.training_data.augment_joint_batch`), or none;
- ``--shifts``: also a random circular shift of the batch along all three axes (η along a
  shifted axis changes slightly: its inlet and outlet move);
- ``--normalization none | batch``: the paper's network, or BatchNorm3d after every convolution;
- ``--optimizer adamw | sgd`` at rate ``--lr``: AdamW (weight decay 1e-4) with 10 % linear
  warm-up and a cosine decay over the steps, or the paper's SGD with momentum 0.9 at a constant
  rate.

It also prints the floor a porosity-only predictor reaches: the variance of logit η left after
a quadratic fit in the structure's solid fraction, per axis, beside the variance of logit η.

Usage: python benchmarks/recipe.py --dataset results/dataset.zarr [--epochs 60] [--no-augment]
       [--shifts] [--normalization batch] [--optimizer adamw] [--lr 1e-3] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from spinodoid.surrogates.cnn import SpinodoidCNN, predict_eta_all_axes
from spinodoid.surrogates.cnn_input import to_model_input
from spinodoid.surrogates.evaluation import mape_percent
from spinodoid.surrogates.train import CosineLR
from spinodoid.surrogates.training_data import SpinodoidDataset, augment_joint_batch


def load_split(dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Block counts uint8 (B, n, n, n) and η float32 (B, 3) of one split."""
    items = SpinodoidDataset(dataset, split, True, joint_axes=True)
    counts, eta = zip(*(items[i] for i in range(len(items))), strict=True)
    return torch.stack([torch.as_tensor(c) for c in counts]), torch.stack(
        [torch.as_tensor(e) for e in eta]
    ).float()


def porosity_floor(counts: torch.Tensor, eta: torch.Tensor) -> list[float]:
    """Variance of logit η per axis left after a least-squares quadratic in the solid fraction."""
    solid = counts.float().mean(dim=(1, 2, 3)) / 8.0
    design = torch.stack([torch.ones_like(solid), solid, solid**2], 1).double()
    logit = torch.logit(eta).double()
    fit = torch.linalg.lstsq(design, logit).solution
    return [round(float(v), 4) for v in (logit - design @ fit).var(0)]


def mape(model: SpinodoidCNN, counts: torch.Tensor, eta: torch.Tensor) -> float:
    """MAPE (%) of the model's η over all structures and axes (prediction in eval mode)."""
    return mape_percent(predict_eta_all_axes(model, counts), eta)


def optimizer_and_schedule(model: SpinodoidCNN, args, steps: int):
    """The optimizer and a per-step LambdaLR: AdamW with the pipeline's warm-up + cosine
    (:class:`spinodoid.surrogates.train.CosineLR`, counted in steps), or SGD at a constant rate."""
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.0, weight_decay=1e-4)
    rate = CosineLR(((steps, math.log10(args.lr)),), warmup_epochs=max(1, steps // 10))
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--shifts", action="store_true")
    parser.add_argument("--normalization", choices=["none", "batch"], default="batch")
    parser.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x_train, eta_train = load_split(args.dataset, "train")
    x_test, eta_test = load_split(args.dataset, "test")
    print(
        "logit-eta variance per axis", [round(float(v), 4) for v in torch.logit(eta_train).var(0)]
    )
    print("left by a quadratic in the solid fraction", porosity_floor(x_train, eta_train))
    torch.manual_seed(0)
    model = SpinodoidCNN(x_train.shape[-1], joint_axes=True, normalization=args.normalization)
    steps = args.epochs * math.ceil(len(x_train) / args.batch_size)
    optimizer, schedule = optimizer_and_schedule(model, args, steps)
    generator = torch.Generator().manual_seed(1)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order, total = torch.randperm(len(x_train), generator=generator), 0.0
        for batch in torch.split(order, args.batch_size):
            x, eta = x_train[batch], eta_train[batch]
            if args.augment:
                x, eta = augment_joint_batch(x, eta, generator)
            if args.shifts:
                shift = torch.randint(0, x.shape[-1], (3,), generator=generator).tolist()
                x = torch.roll(x, shift, dims=(1, 2, 3))
            loss = torch.mean((model(to_model_input(x)) - torch.logit(eta)) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        if epoch % 5 == 0 or epoch == args.epochs:
            train_mape, test_mape = mape(model, x_train, eta_train), mape(model, x_test, eta_test)
            seconds = time.perf_counter() - start
            print(
                f"epoch {epoch:4d}  loss {total / len(x_train):.4f}  train MAPE {train_mape:6.2f} %"
                f"  test MAPE {test_mape:6.2f} %  {seconds:6.0f} s",
                flush=True,
            )
    result = {**vars(args), "train_mape": train_mape, "test_mape": test_mape, "seconds": seconds}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
