"""Tests of the joint CNN of η_x, η_y, η_z (spinodoid.surrogates: cnn, training_data, train,
evaluation) and of the training recipe beyond the paper's (AdamW, warm-up + cosine)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from spinodoid import abc
from spinodoid._cli import predict as predict_cli
from spinodoid.formats.structure_file import save_structure
from spinodoid.solvers.diffusivity import effective_diffusivity_xyz
from spinodoid.structures.connectivity import is_bicontinuous
from spinodoid.structures.grf import generate_structure
from spinodoid.surrogates.cnn import (
    SpinodoidCNN,
    load_model,
    passes_per_structure,
    predict_eta,
    predict_eta_all_axes,
    predict_eta_pruned,
    save_checkpoint,
)
from spinodoid.surrogates.cnn_input import block_counts
from spinodoid.surrogates.evaluation import equivariance_gap, evaluation_table, predict_splits
from spinodoid.surrogates.train import CosineLR, TrainConfig, train
from spinodoid.surrogates.training_data import (
    AXIS_PERMUTATIONS,
    SpinodoidDataset,
    augment_joint_batch,
)
from tests.datasets import write_learnable_store
from tests.geometries import straight_channel

SIZE = 64  # N; the CNN sees 32³ block counts


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory) -> Path:
    """8 train / 2 val / 2 test structures of N = 64."""
    return write_learnable_store(tmp_path_factory.mktemp("store"), 8, 2, 2, SIZE)


@pytest.fixture(scope="module")
def joint_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("joint") / "best.pt"
    save_checkpoint(path, SpinodoidCNN(32, joint_axes=True), {"size": SIZE})
    return path


# --- augmentation: labels follow the axes ------------------------------------------------------


def test_channels_keep_their_label_through_every_symmetry() -> None:
    # Straight pores along x: η_x = ε, η_y = η_z = 0. After the augmentation the channels run
    # along one axis, and only that axis's label may be ε.
    cross = np.zeros((8, 8), dtype=bool)
    cross[2:4, 1:6] = True
    channels = torch.from_numpy(straight_channel(cross, 0, 8).structure)
    eps = float(1.0 - channels.double().mean())
    batch = channels.expand(64, 8, 8, 8).clone()
    labels = torch.tensor([[eps, 0.0, 0.0]]).expand(64, 3).clone()
    out, out_labels = augment_joint_batch(batch, labels, torch.Generator().manual_seed(3))
    seen = set()
    for x, y in zip(out, out_labels, strict=True):
        along = [k for k in range(3) if torch.equal(x, x.roll(1, dims=k))]
        assert len(along) == 1
        assert y[along[0]] == pytest.approx(eps) and float(y.sum()) == pytest.approx(eps)
        seen.add(along[0])
    assert seen == {0, 1, 2}


def test_augmented_structures_have_the_augmented_labels_by_the_solver() -> None:
    theta, seed = (0.3, 0.15, 0.08, 0.6), 0
    while not is_bicontinuous(structure := generate_structure(theta, seed, 12)):
        seed += 1
    eta = [r.eta for r in effective_diffusivity_xyz(structure, solver="fv", interface="voxel")]
    assert max(eta) > 1.5 * min(eta)  # anisotropic enough that a wrong permutation shows
    batch = torch.from_numpy(structure).expand(6, 12, 12, 12).clone()
    labels = torch.tensor([eta], dtype=torch.float64).expand(6, 3).clone()
    out, out_labels = augment_joint_batch(batch, labels, torch.Generator().manual_seed(1))
    for x, y in zip(out, out_labels, strict=True):
        solved = effective_diffusivity_xyz(x.numpy(), solver="fv", interface="voxel")
        np.testing.assert_allclose([r.eta for r in solved], y.numpy(), rtol=1e-6)


def test_every_permutation_and_flip_is_drawn() -> None:
    x = torch.arange(8**3, dtype=torch.int64).reshape(1, 8, 8, 8).expand(4000, 8, 8, 8).clone()
    labels = torch.zeros(4000, 3)
    out, _ = augment_joint_batch(x, labels, torch.Generator().manual_seed(0))
    corners = {tuple(o[[0, -1]][:, [0, -1]][:, :, [0, -1]].reshape(-1).tolist()) for o in out}
    assert len(AXIS_PERMUTATIONS) == 6 and len(corners) == 48  # the cube's 48 symmetries


# --- the model and its predictions -------------------------------------------------------------


def test_joint_model_predicts_three_axes_in_one_pass(joint_checkpoint) -> None:
    model, meta = load_model(joint_checkpoint)
    assert meta["joint_axes"] and passes_per_structure(model) == 1
    counts = torch.from_numpy(
        np.stack([block_counts(generate_structure((0.1, 0.2, 0.3, 0.6), s, SIZE)) for s in (1, 2)])
    )
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    eta = predict_eta_all_axes(model, counts)
    assert eta.shape == (2, 3) and len(calls) == 1
    np.testing.assert_allclose(predict_eta(model, counts, 1), eta[:, 1], rtol=1e-6)
    pruned = predict_eta_pruned(model, counts, lambda e: np.zeros(len(e), dtype=bool))
    np.testing.assert_allclose(pruned.numpy(), eta.double().numpy(), rtol=1e-6)


def test_a_per_axis_checkpoint_stays_per_axis(tmp_path) -> None:
    path = tmp_path / "old.pt"
    meta = {"size": 64, "input_size": 32}  # as written before joint models existed
    torch.save({"model": SpinodoidCNN(32).state_dict(), "meta": meta}, path)
    model, meta = load_model(path)
    assert not model.joint_axes and meta["joint_axes"] is False and passes_per_structure(model) == 3


def test_joint_checkpoint_through_predict_cli_and_design(joint_checkpoint, tmp_path, capsys):
    theta = (0.1, 0.15, 0.2, 0.6)
    path = tmp_path / "a.h5"
    save_structure(path, generate_structure(theta, 0, SIZE), theta=theta, seed=0)
    parser = argparse.ArgumentParser()
    predict_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["predict", "--model", str(joint_checkpoint), str(path), "--json"])
    assert args.func(args) == 0
    record = json.loads(capsys.readouterr().out.strip())
    model, _ = load_model(joint_checkpoint)
    counts = torch.as_tensor(block_counts(generate_structure(theta, 0, SIZE)))[None]
    expected = predict_eta_all_axes(model, counts)[0].tolist()
    assert [record["eta"][a] for a in "xyz"] == pytest.approx(expected, abs=1e-6)
    simulate = abc.cnn_simulator(joint_checkpoint, "cpu", base_seed=4, chunk_size=2)
    eta = simulate(np.array([theta] * 3), np.arange(3))
    assert eta.shape == (3, 3) and np.isfinite(eta).all()


def test_equivariance_gap_is_zero_for_an_invariant_model_and_not_for_a_random_one(tiny_store):
    torch.manual_seed(0)
    random_model = SpinodoidCNN(32, joint_axes=True).eval()
    assert equivariance_gap(random_model, tiny_store, "test") > 1e-3
    constant = SpinodoidCNN(32, joint_axes=True).eval()
    with torch.no_grad():
        constant.head[-1].weight.zero_()
        constant.head[-1].bias.fill_(0.3)
    assert equivariance_gap(constant, tiny_store, "test") == pytest.approx(0.0, abs=1e-9)


def test_joint_predictions_of_the_splits_follow_the_per_axis_rows(tiny_store) -> None:
    torch.manual_seed(0)
    model = SpinodoidCNN(32, joint_axes=True).eval()
    predictions = predict_splits(model, tiny_store, splits=("test",))
    dataset = SpinodoidDataset(tiny_store, "test", joint_axes=True)
    assert len(dataset) == 2 and dataset[0][1].shape == (3,)
    counts = torch.stack([dataset[k][0] for k in range(2)])
    expected = predict_eta_all_axes(model, counts).numpy().reshape(-1)
    np.testing.assert_allclose(predictions["eta_pred"].to_numpy(), expected, atol=1e-6)
    assert predictions["direction"].tolist() == ["x", "y", "z"] * 2
    table = evaluation_table(predictions, test_equivariance_gap=1.5)
    assert table.loc[table["direction"] == "all", "equivariance_gap_percent"].tolist() == [1.5]
    assert table.loc[table["direction"] != "all", "equivariance_gap_percent"].isna().all()


# --- training: the joint model and the recipe ----------------------------------------------------


def _config(schedule, **kw) -> TrainConfig:
    base = {"batch_size": 4, "device": "cpu", "deterministic": True, "num_workers": 0, "seed": 5}
    return TrainConfig(schedule=tuple(schedule), **{**base, **kw})


def test_cosine_rate_warms_up_then_decays() -> None:
    rate = CosineLR(((10, -3.0),), warmup_epochs=2)
    rates = [rate(e) for e in range(10)]
    assert rates[:3] == pytest.approx([5e-4, 1e-3, 1e-3])  # the decay starts at the peak
    assert all(a > b for a, b in zip(rates[2:], rates[3:], strict=False))
    assert rates[-1] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 7 / 8)))


def test_recipe_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        _config(((2, -3.0),), optimizer="adam")
    with pytest.raises(ValueError, match="warmup_epochs"):
        _config(((2, -3.0),), lr_schedule="cosine", warmup_epochs=2)
    with pytest.raises(ValueError, match="normalization"):
        _config(((2, -3.0),), normalization="layer")


def test_joint_adamw_training_fits_and_resumes(tiny_store, tmp_path) -> None:
    cfg = _config(
        ((1, -10.0), (4, -3.0)), joint_axes=True, optimizer="adamw", weight_decay=1e-4,
        lr_schedule="cosine", warmup_epochs=1,
    )  # fmt: skip
    result = train(cfg, tiny_store, tmp_path / "full")
    metrics = pd.read_csv(tmp_path / "full" / "metrics.csv")
    assert result.finished and metrics["train_loss"].iloc[-1] < 0.5 * metrics["train_loss"].iloc[0]
    model, meta = load_model(tmp_path / "full" / "best.pt")
    assert model.joint_axes and meta["train_config"]["optimizer"] == "adamw"
    train(cfg, tiny_store, tmp_path / "cut", stop_after_epochs=2)
    train(cfg, tiny_store, tmp_path / "cut")
    full = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["model"]
    cut = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_batch_normalised_training_resumes_and_predicts_from_running_statistics(
    tiny_store, tmp_path
) -> None:
    cfg = _config(((3, -3.0),), joint_axes=True, optimizer="adamw", normalization="batch")
    train(cfg, tiny_store, tmp_path / "full")
    train(cfg, tiny_store, tmp_path / "cut", stop_after_epochs=1)
    train(cfg, tiny_store, tmp_path / "cut")
    full = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["model"]
    cut = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["model"]
    assert any("running_mean" in k for k in full)  # the statistics travel with the weights
    assert all(torch.equal(full[k], cut[k]) for k in full)
    model, meta = load_model(tmp_path / "full" / "best.pt")
    assert meta["normalization"] == "batch" and model.normalization == "batch"
    counts = torch.from_numpy(np.stack([np.asarray(b) for b in _two_structures()]))
    both = predict_eta_all_axes(model, counts)
    alone = predict_eta_all_axes(model, counts[:1])
    assert torch.allclose(both[:1], alone, atol=1e-6)  # eval mode: no batch statistics


def _two_structures() -> list[np.ndarray]:
    """Block counts (32³) of two bicontinuous N = 64 structures."""
    return [block_counts(generate_structure((0.1, 0.12, 0.14, 0.6), seed, SIZE)) for seed in (1, 2)]
