"""The CNN's error measures on the dataset splits (paper Table 1, eqs. 14–15; docs/method.md §4)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from spinodoid import AXES
from spinodoid.formats.dataset import SPLITS
from spinodoid.surrogates.cnn import SpinodoidCNN, predict_eta, predict_eta_all_axes
from spinodoid.surrogates.training_data import AXIS_PERMUTATIONS, SpinodoidDataset

__all__ = [
    "PAPER_TABLE1",
    "equivariance_gap",
    "evaluation_table",
    "mape_percent",
    "mse_logit",
    "predict_splits",
]


PAPER_TABLE1: dict[str, tuple[float, float]] = {
    "train": (3.5766e-4, 0.8689),
    "val": (4.7425e-4, 0.9615),
    "test": (5.0987e-4, 0.9986),
}


def mse_logit(eta_pred: torch.Tensor, eta_true: torch.Tensor) -> float:
    """MSE on the logit scale (eq. 14): ⟨(logit η̂ − logit η)²⟩, η in (0, 1), any equal shapes."""
    diff = torch.logit(eta_pred.double()) - torch.logit(eta_true.double())
    return float(torch.mean(diff**2))


def mape_percent(eta_pred: torch.Tensor, eta_true: torch.Tensor) -> float:
    """Mean absolute percentage error (eq. 15): 100 · ⟨|η̂ − η| / η⟩, in percent."""
    return float(100.0 * torch.mean(torch.abs(eta_pred.double() - eta_true.double()) / eta_true))


def predict_splits(
    model: SpinodoidCNN,
    dataset_path: str | os.PathLike[str],
    splits: Sequence[str] = SPLITS,
    device: str | torch.device | None = None,
    batch_size: int = 32,
) -> pd.DataFrame:
    """CNN predictions for every item of the given splits of a dataset store (no augmentation).

    Returns
    -------
    pandas.DataFrame
        One row per (structure, direction): ``split``, ``row`` (index in the store),
        ``direction`` ("x", "y", "z"), ``eta_true``, ``eta_pred``.
    """
    frames = []
    for split in splits:
        dataset = SpinodoidDataset(dataset_path, split)
        if model.joint_axes:
            preds = _joint_predictions(model, dataset_path, split, device, batch_size)
        else:
            loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
            preds = [predict_eta(model, x, 0, device).float().cpu() for x, _ in loader]
        sources = [dataset.source(i) for i in range(len(dataset))]
        frames.append(
            pd.DataFrame(
                {
                    "split": split,
                    "row": [row for row, _ in sources],
                    "direction": [AXES[axis] for _, axis in sources],
                    "eta_true": dataset.targets().numpy(),
                    "eta_pred": torch.cat(preds).numpy() if preds else np.empty(0),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _joint_predictions(
    model: SpinodoidCNN,
    dataset_path: str | os.PathLike[str],
    split: str,
    device: str | torch.device | None,
    batch_size: int,
) -> list[torch.Tensor]:
    """A joint model's η of a split's structures, flattened to the per-axis item order
    (structure by structure, x, y, z), float32 CPU tensors."""
    joint = SpinodoidDataset(dataset_path, split, joint_axes=True)
    loader = DataLoader(joint, batch_size=batch_size, shuffle=False)
    return [predict_eta_all_axes(model, x, device).float().cpu().reshape(-1) for x, _ in loader]


def equivariance_gap(
    model: SpinodoidCNN,
    dataset_path: str | os.PathLike[str],
    split: str = "test",
    device: str | torch.device | None = None,
    batch_size: int = 32,
) -> float:
    """How far a joint model is from equivariant under the axis permutations, in percent.

    For each structure of ``split`` and each of the six axis orders ``p``, the prediction on
    the permuted structure, mapped back, is compared with the prediction on the structure
    itself: ``100 · mean |η̂(x.permute(p))[p⁻¹] − η̂(x)| / η̂(x)`` over structures, orders and
    axes. An exactly equivariant model gives 0; the training augmentation only makes it
    approximately so.
    """
    joint = SpinodoidDataset(dataset_path, split, joint_axes=True)
    gaps = []
    for x, _ in DataLoader(joint, batch_size=batch_size, shuffle=False):
        base = predict_eta_all_axes(model, x, device).double().cpu()
        for perm in AXIS_PERMUTATIONS:
            moved = predict_eta_all_axes(model, x.permute(0, *(1 + a for a in perm)), device)
            back = torch.empty_like(base)
            back[:, list(perm)] = moved.double().cpu()
            gaps.append(torch.abs(back - base) / base)
    return float(100.0 * torch.cat(gaps).mean()) if gaps else math.nan


def evaluation_table(
    predictions: pd.DataFrame, test_equivariance_gap: float | None = None
) -> pd.DataFrame:
    """The paper's Table 1 per split and per direction from :func:`predict_splits` output.

    Returns
    -------
    pandas.DataFrame
        One row per split and direction ("x", "y", "z", "all"): ``split``, ``direction``,
        ``samples``, ``mse_logit`` (eq. 14), ``mape_percent`` (eq. 15), and for "all" the
        paper's values ``paper_mse_logit`` and ``paper_mape_percent`` (NaN elsewhere); with
        ``test_equivariance_gap`` (a joint model's :func:`equivariance_gap` on the test split)
        also ``equivariance_gap_percent`` on the test split's "all" row.
    """
    rows = []
    for split, group in predictions.groupby("split", sort=False):
        for direction in (*AXES, "all"):
            part = group if direction == "all" else group[group["direction"] == direction]
            pred = torch.tensor(part["eta_pred"].to_numpy())
            true = torch.tensor(part["eta_true"].to_numpy())
            paper = PAPER_TABLE1.get(str(split), (math.nan, math.nan))
            paper = paper if direction == "all" else (math.nan, math.nan)
            rows.append(
                {
                    "split": split,
                    "direction": direction,
                    "samples": len(part),
                    "mse_logit": mse_logit(pred, true) if len(part) else math.nan,
                    "mape_percent": mape_percent(pred, true) if len(part) else math.nan,
                    "paper_mse_logit": paper[0],
                    "paper_mape_percent": paper[1],
                }
            )
    table = pd.DataFrame(rows)
    if test_equivariance_gap is not None:
        test_all = (table["split"] == "test") & (table["direction"] == "all")
        table["equivariance_gap_percent"] = np.where(test_all, test_equivariance_gap, np.nan)
    return table
