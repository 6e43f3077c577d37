"""Tests of spinodoid.surrogates.train: schedule, metrics, training with resume, evaluation,
predict CLI."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from spinodoid._cli import predict as predict_cli
from spinodoid.formats.structure_file import save_structure
from spinodoid.plotting import parity_figure
from spinodoid.structures.grf import generate_structure
from spinodoid.surrogates.cnn import SpinodoidCNN, load_model, predict_eta_all_axes, save_checkpoint
from spinodoid.surrogates.cnn_input import block_counts
from spinodoid.surrogates.evaluation import (
    PAPER_TABLE1,
    evaluation_table,
    mape_percent,
    mse_logit,
    predict_splits,
)
from spinodoid.surrogates.train import (
    METRIC_COLUMNS,
    PhaseLR,
    TrainConfig,
    learning_rate,
    total_epochs,
    train,
)
from spinodoid.surrogates.training_data import SpinodoidDataset
from tests.datasets import write_learnable_store

PAPER_SCHEDULE = (
    (25, -4.0),
    (25, -3.75),
    (25, -3.5),
    (25, -3.25),
    (25, -3.0),
    (25, -2.75),
    (1600, -2.5),
    (875, -2.75),
    (875, -3.0),
)
SIZE = 64  # N; the CNN sees 32³ block counts, as in the demo


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory) -> Path:
    """8 train / 2 val / 2 test structures: 24 / 6 / 6 samples of 32³."""
    return write_learnable_store(tmp_path_factory.mktemp("store"), 8, 2, 2, SIZE)


def _config(schedule=((1, -3.0), (1, -2.5)), **kw) -> TrainConfig:
    base = {"batch_size": 8, "device": "cpu", "deterministic": True, "num_workers": 0, "seed": 5}
    return TrainConfig(schedule=tuple(schedule), **{**base, **kw})


# --- schedule -------------------------------------------------------------------------------


def test_paper_schedule_learning_rates() -> None:
    assert total_epochs(PAPER_SCHEDULE) == 3500
    expected = {
        0: -4.0, 24: -4.0, 25: -3.75, 74: -3.5, 75: -3.25, 149: -2.75, 150: -2.5,
        1749: -2.5, 1750: -2.75, 2624: -2.75, 2625: -3.0, 3499: -3.0, 5000: -3.0,
    }  # fmt: skip
    for epoch, log10_lr in expected.items():
        assert learning_rate(PAPER_SCHEDULE, epoch) == pytest.approx(10.0**log10_lr, rel=1e-12)
    with pytest.raises(ValueError):
        learning_rate(PAPER_SCHEDULE, -1)


def test_scheduler_sets_the_optimizer_rate() -> None:
    schedule = ((2, -4.0), (3, -2.5), (1, -3.0))
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, PhaseLR(schedule))
    seen = []
    for _ in range(6):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert np.allclose(np.log10(seen), [-4, -4, -2.5, -2.5, -2.5, -3])


def test_config_from_pipeline_dict() -> None:
    section = {
        "schedule": [{"epochs": 4, "log10_lr": -3.0}, {"epochs": 4, "log10_lr": -2.5}],
        "batch_size": 16, "momentum": 0.9, "device": "cpu", "mixed_precision": False,
        "channels_last": False, "deterministic": True, "num_workers": 0,
    }  # fmt: skip
    cfg = TrainConfig.from_config(section, seed=7)
    assert cfg.schedule == ((4, -3.0), (4, -2.5)) and cfg.seed == 7 and cfg.batch_size == 16


# --- metrics ---------------------------------------------------------------------------------


def test_metrics_against_hand_computed_values() -> None:
    pred, true = torch.tensor([0.5, 0.2]), torch.tensor([0.4, 0.25])
    # logit: 0 vs log(0.4/0.6); log(0.25) vs log(1/3).
    hand_mse = (math.log(2 / 3) ** 2 + math.log(0.75) ** 2) / 2
    assert mse_logit(pred, true) == pytest.approx(hand_mse, rel=1e-6)
    assert mape_percent(pred, true) == pytest.approx(100 * (0.1 / 0.4 + 0.05 / 0.25) / 2, rel=1e-6)
    assert mse_logit(true, true) == 0.0 and mape_percent(true, true) == 0.0


def test_evaluation_table_per_split_and_direction() -> None:
    predictions = pd.DataFrame(
        {
            "split": ["test"] * 6,
            "row": [0, 0, 0, 1, 1, 1],
            "direction": ["x", "y", "z"] * 2,
            "eta_true": [0.5, 0.5, 0.5, 0.2, 0.4, 0.8],
            "eta_pred": [0.5, 0.55, 0.5, 0.2, 0.4, 0.8],
        }
    )
    table = evaluation_table(predictions).set_index(["split", "direction"])
    assert table.loc[("test", "x"), "mape_percent"] == 0.0
    assert table.loc[("test", "y"), "mape_percent"] == pytest.approx(100 * 0.1 / 2)
    assert table.loc[("test", "all"), "mape_percent"] == pytest.approx(100 * 0.1 / 6)
    hand = (math.log(0.55 / 0.45)) ** 2
    assert table.loc[("test", "y"), "mse_logit"] == pytest.approx(hand / 2, rel=1e-6)
    assert table.loc[("test", "all"), "mse_logit"] == pytest.approx(hand / 6, rel=1e-6)
    assert table.loc[("test", "all"), "samples"] == 6
    assert table.loc[("test", "all"), "paper_mape_percent"] == PAPER_TABLE1["test"][1]
    assert math.isnan(table.loc[("test", "x"), "paper_mse_logit"])


# --- training --------------------------------------------------------------------------------


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def test_resume_gives_the_same_weights(tiny_store, tmp_path) -> None:
    cfg = _config()
    full = train(cfg, tiny_store, tmp_path / "full")
    assert full.finished and full.epochs_done == 2
    first = train(cfg, tiny_store, tmp_path / "cut", stop_after_epochs=1)
    assert not first.finished and (tmp_path / "cut" / "checkpoint.pt").exists()
    (tmp_path / "cut" / "best.pt").unlink()  # as Snakemake deletes outputs of a failed job
    (tmp_path / "cut" / "metrics.csv").unlink()
    resumed = train(cfg, tiny_store, tmp_path / "cut")
    assert resumed.finished and resumed.best_val_loss == full.best_val_loss
    a, b = _weights(tmp_path / "full" / "last.pt"), _weights(tmp_path / "cut" / "last.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    a, b = _weights(tmp_path / "full" / "best.pt"), _weights(tmp_path / "cut" / "best.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    m_full = pd.read_csv(tmp_path / "full" / "metrics.csv")
    m_cut = pd.read_csv(tmp_path / "cut" / "metrics.csv")
    assert list(m_full.columns) == list(METRIC_COLUMNS) and len(m_full) == 2
    cols = ["epoch", "log10_lr", "train_loss", "val_loss", "val_mape", "is_best"]
    pd.testing.assert_frame_equal(m_full[cols], m_cut[cols])
    assert m_full["log10_lr"].tolist() == [-3.0, -2.5]
    assert not (tmp_path / "full" / "checkpoint.pt").exists()
    model, meta = load_model(tmp_path / "full" / "best.pt")
    assert meta["input_size"] == 32 and meta["size"] == SIZE
    assert meta["epoch"] == full.best_epoch and meta["val_loss"] == full.best_val_loss


def test_resume_refuses_another_configuration(tiny_store, tmp_path) -> None:
    train(_config(), tiny_store, tmp_path, stop_after_epochs=1)
    with pytest.raises(ValueError, match="another configuration"):
        train(_config(batch_size=4), tiny_store, tmp_path)


def test_loss_falls_on_a_learnable_problem(tiny_store, tmp_path) -> None:
    # η = 0.9 ε^1.5 depends on the porosity only, which the network sees as the input mean.
    # The first epoch runs at LR 1e-10, so its losses are those of the untrained network.
    schedule = ((1, -10.0), (3, -3.0))
    result = train(_config(schedule=schedule, batch_size=4), tiny_store, tmp_path)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    untrained_train, untrained_val = metrics[["train_loss", "val_loss"]].iloc[0]
    assert metrics["train_loss"].iloc[-1] < 0.5 * untrained_train
    assert result.best_val_loss < 0.25 * untrained_val and result.best_epoch > 1


def test_evaluation_of_a_trained_model(tiny_store, tmp_path) -> None:
    torch.manual_seed(0)
    model = SpinodoidCNN(32).eval()
    predictions = predict_splits(model, tiny_store, device="cpu", batch_size=16)
    assert len(predictions) == 3 * (8 + 2 + 2)
    test = predictions[predictions["split"] == "test"]
    dataset = SpinodoidDataset(tiny_store, "test")
    assert np.allclose(test["eta_true"], dataset.targets().numpy())
    # The rows of one structure agree with predict_eta_all_axes on its (x, y, z) counts.
    counts = torch.stack([dataset[3 * k][0] for k in range(2)])  # axis x: counts unchanged
    expected = predict_eta_all_axes(model, counts).numpy().reshape(-1)
    assert np.allclose(test["eta_pred"].to_numpy(), expected, atol=1e-6)
    table = evaluation_table(predictions)
    assert len(table) == 3 * 4 and table["mape_percent"].gt(0).all()
    fig = parity_figure(predictions)
    fig.savefig(tmp_path / "parity.png")
    assert (tmp_path / "parity.png").stat().st_size > 1000


@pytest.mark.cuda
def test_cuda_bf16_channels_last_epoch(tiny_store, tmp_path) -> None:
    cfg = _config(device="cuda", mixed_precision=True, channels_last=True, deterministic=False)
    result = train(cfg, tiny_store, tmp_path)
    assert result.finished and math.isfinite(result.best_val_loss)
    model, _ = load_model(tmp_path / "best.pt", "cuda")
    on_gpu = predict_splits(model, tiny_store, device="cuda")["eta_pred"].to_numpy()
    on_cpu = predict_splits(model.cpu(), tiny_store, device="cpu")["eta_pred"].to_numpy()
    assert np.allclose(on_gpu, on_cpu, atol=2e-2)  # bf16 autocast on the GPU


@pytest.mark.cuda
def test_cuda_deterministic_resume(tiny_store, tmp_path) -> None:
    cfg = _config(device="cuda", mixed_precision=False, channels_last=False, deterministic=True)
    train(cfg, tiny_store, tmp_path / "full")
    train(cfg, tiny_store, tmp_path / "cut", stop_after_epochs=1)
    train(cfg, tiny_store, tmp_path / "cut")
    a, b = _weights(tmp_path / "full" / "last.pt"), _weights(tmp_path / "cut" / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


# --- predict CLI -----------------------------------------------------------------------------


def _run_predict(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    predict_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["predict", *argv])
    return args.func(args)


@pytest.fixture()
def checkpoint(tmp_path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "best.pt"
    save_checkpoint(path, SpinodoidCNN(32), {"size": SIZE})
    return path


def test_predict_cli_json(checkpoint, tmp_path, capsys) -> None:
    theta = (0.1, 0.15, 0.2, 0.6)
    files = [tmp_path / "a.h5", tmp_path / "b.npy"]
    structures = [generate_structure(theta, seed, SIZE) for seed in (0, 1)]
    for path, structure in zip(files, structures, strict=True):
        save_structure(path, structure, theta=theta, seed=0)
    assert _run_predict(["--model", str(checkpoint), *map(str, files), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    model, _ = load_model(checkpoint)
    counts = torch.stack([torch.as_tensor(block_counts(s)) for s in structures])
    expected = predict_eta_all_axes(model, counts)
    for line, path, row in zip(lines, files, expected, strict=True):
        record = json.loads(line)
        assert record["file"] == str(path)
        assert [record["eta"][a] for a in "xyz"] == pytest.approx(row.tolist(), abs=1e-6)


def test_predict_cli_text(checkpoint, tmp_path, capsys) -> None:
    path = tmp_path / "a.npy"
    save_structure(path, generate_structure((0.1, 0.1, 0.1, 0.5), 3, SIZE))
    assert _run_predict(["--model", str(checkpoint), str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: eta_x=") and "eta_z=" in out


def test_predict_cli_refuses_a_structure_of_another_size(checkpoint, tmp_path) -> None:
    path = tmp_path / "big.npy"
    save_structure(path, generate_structure((0.1, 0.1, 0.1, 0.5), 3, 80))
    with pytest.raises(ValueError, match=r"trained on 64³ structures.*--size 64"):
        _run_predict(["--model", str(checkpoint), str(path)])


def test_predict_cli_refuses_a_model_of_another_input_size(tmp_path) -> None:
    ckpt = tmp_path / "m48.pt"
    save_checkpoint(ckpt, SpinodoidCNN(48), {"size": 96})
    path = tmp_path / "a.npy"
    save_structure(path, generate_structure((0.1, 0.1, 0.1, 0.5), 3, SIZE))
    with pytest.raises(ValueError, match="trained on 96³ structures"):
        _run_predict(["--model", str(ckpt), str(path)])
