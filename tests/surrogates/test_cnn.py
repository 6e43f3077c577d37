"""Tests of spinodoid.surrogates.cnn: the paper's CNN, checkpoints and batched η prediction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spinodoid.surrogates.cnn import (
    SpinodoidCNN,
    _AvgPool2,
    feature_size,
    load_model,
    predict_eta,
    predict_eta_all_axes,
    predict_eta_pruned,
    save_checkpoint,
)
from spinodoid.surrogates.cnn_input import block_counts


def _model(input_size: int = 32, seed: int = 0) -> SpinodoidCNN:
    torch.manual_seed(seed)
    return SpinodoidCNN(input_size).eval()


def _counts(batch: int, n: int = 32, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 9, (batch, n, n, n), generator=g, dtype=torch.uint8)


def test_paper_network_has_8_8m_weights() -> None:
    # docs/method.md §4: valid convolutions give 64·8³ = 32768 features and "≈ 8.8M weights".
    model = SpinodoidCNN(96)
    n_weights = sum(p.numel() for p in model.parameters())
    assert abs(n_weights - 8.8e6) <= 0.1e6
    assert feature_size(96) == 8
    first_dense = next(m for m in model.head if isinstance(m, nn.Linear))
    assert first_dense.in_features == 64 * 8**3


def test_layer_structure_matches_the_paper() -> None:
    model = SpinodoidCNN(96)
    convs = [m for m in model.features if isinstance(m, nn.Conv3d)]
    assert [c.out_channels for c in convs] == [32, 32, 48, 48, 64, 64]
    assert all(c.kernel_size == (3, 3, 3) and c.padding == (0, 0, 0) for c in convs)
    assert sum(isinstance(m, _AvgPool2) for m in model.features) == 3
    dense = [m for m in model.head if isinstance(m, nn.Linear)]
    assert [d.out_features for d in dense] == [256, 192, 128, 64, 1]
    # ELU after every conv and dense layer but the last.
    assert sum(isinstance(m, nn.ELU) for m in model.modules()) == 6 + 4
    assert isinstance(model.head[-1], nn.Linear)


def test_output_shape_at_paper_size() -> None:
    model = _model(96)
    with torch.inference_mode():
        out = model(torch.zeros(1, 1, 96, 96, 96))
    assert out.shape == (1,) and out.dtype == torch.float32


@pytest.mark.parametrize("n", [32, 40, 48])
def test_output_shape_at_other_sizes(n: int) -> None:
    with torch.inference_mode():
        out = _model(n)(torch.rand(3, 1, n, n, n) - 0.5)
    assert out.shape == (3,) and torch.isfinite(out).all()


def test_demo_size_skips_only_the_last_pooling() -> None:
    # 32→30→28→14→12→10→5→3→1: the last pool would give 0, so it is skipped.
    model = SpinodoidCNN(32)
    assert feature_size(32) == 1
    assert sum(isinstance(m, _AvgPool2) for m in model.features) == 2
    assert sum(isinstance(m, _AvgPool2) for m in SpinodoidCNN(36).features) == 3


def test_too_small_input_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        SpinodoidCNN(24)


def test_wrong_input_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32, 32\)"):
        _model(32)(torch.zeros(2, 1, 34, 34, 34))


def test_last_layer_runs_in_float32_under_bf16_autocast() -> None:
    """Under bf16 autocast the logit is the float32 last layer of the (bf16) features, not a
    bf16-rounded number: the loss and every prediction see it unrounded."""
    model = _model(32)
    x = torch.rand(4, 1, 32, 32, 32) - 0.5
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logit = model(x)
        hidden = model.features(x)
        for layer in model.head[:-1]:
            hidden = layer(hidden)
    assert hidden.dtype == torch.bfloat16  # the network itself did run in bf16
    last = model.head[-1]
    expected = (hidden.float() @ last.weight.T + last.bias).squeeze(1)
    assert logit.dtype == torch.float32
    torch.testing.assert_close(logit, expected, rtol=1e-6, atol=1e-7)
    assert not torch.equal(logit, logit.bfloat16().float())  # not rounded to bf16 steps


def test_forward_runs_on_the_meta_device_for_flop_counting() -> None:
    with torch.device("meta"):
        per_axis, joint = SpinodoidCNN(32), SpinodoidCNN(32, joint_axes=True)
        x = torch.empty(2, 1, 32, 32, 32)
    assert per_axis(x).shape == (2,) and joint(x).shape == (2, 3)


def test_pooling_equals_avgpool3d_with_floor() -> None:
    x = torch.randn(2, 3, 9, 8, 7)
    assert torch.allclose(_AvgPool2()(x), nn.AvgPool3d(2)(x), atol=1e-6)


def test_checkpoint_round_trip(tmp_path) -> None:
    model = _model(32)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, {"size": 64, "note": "x"})
    loaded, meta = load_model(path, "cpu")
    assert meta["input_size"] == 32 and meta["size"] == 64 and meta["note"] == "x"
    assert not loaded.training
    x = torch.rand(2, 1, 32, 32, 32) - 0.5
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))
    assert not list(tmp_path.glob(".*tmp*"))


def test_checkpoint_needs_size(tmp_path) -> None:
    with pytest.raises(ValueError, match="size"):
        save_checkpoint(tmp_path / "m.pt", _model(32), {})


def test_load_model_rejects_other_files(tmp_path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a spinodoid CNN checkpoint"):
        load_model(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not a spinodoid CNN checkpoint"):
        load_model(other)


def test_predict_eta_moves_the_transport_axis_first() -> None:
    model, counts = _model(32), _counts(4)
    for axis in range(3):
        direct = predict_eta(model, counts, axis=axis)
        # The dataset's convention: np.moveaxis(counts, axis, 0) per structure.
        moved = torch.from_numpy(np.ascontiguousarray(np.moveaxis(counts.numpy(), axis + 1, 1)))
        logits = model(torch.as_tensor(moved, dtype=torch.float32).unsqueeze(1) / 8 - 0.5)
        assert torch.allclose(direct, torch.sigmoid(logits), atol=1e-6)
        assert direct.shape == (4,) and ((direct > 0) & (direct < 1)).all()


def test_predict_eta_all_axes_matches_single_axes() -> None:
    model, counts = _model(32), _counts(5)
    all_axes = predict_eta_all_axes(model, counts, batch_size=6)
    assert all_axes.shape == (5, 3) and all_axes.dtype == torch.float32
    for axis in range(3):
        assert torch.allclose(all_axes[:, axis], predict_eta(model, counts, axis), atol=1e-6)
    # The three columns differ for a random (anisotropic-by-chance) input.
    assert not torch.allclose(all_axes[:, 0], all_axes[:, 1])


def test_pruned_prediction_skips_only_the_rows_keep_drops() -> None:
    model, counts = _model(32), _counts(6)
    full = predict_eta_all_axes(model, counts).double()
    seen: list[torch.Tensor] = []
    predicted: list[int] = []
    model.register_forward_hook(lambda _m, args, _out: predicted.append(len(args[0])))

    def keep(eta: torch.Tensor) -> torch.Tensor:
        seen.append(eta.clone())
        return torch.arange(len(eta)) % 2 == 0 if len(seen) == 1 else torch.arange(len(eta)) < 3

    eta = predict_eta_pruned(model, counts, keep, batch_size=64)
    # x for all 6, y for rows 0, 2, 4, z for rows 0, 2 (row 4 dropped by the second test)
    assert predicted == [6, 3, 2]
    assert torch.isnan(seen[0][:, 1:]).all() and not torch.isnan(seen[0][:, 0]).any()
    assert torch.allclose(eta[:, 0], full[:, 0], atol=1e-6)
    assert torch.allclose(eta[[0, 2, 4], 1], full[[0, 2, 4], 1], atol=1e-6)
    assert torch.isnan(eta[[1, 3, 5], 1:]).all() and torch.isnan(eta[4, 2])
    assert torch.allclose(eta[[0, 2], 2], full[[0, 2], 2], atol=1e-6)
    everything = predict_eta_pruned(model, counts, lambda e: torch.ones(len(e), dtype=torch.bool))
    assert torch.allclose(everything, full, atol=1e-6)


def test_predict_refuses_wrong_sizes() -> None:
    model = _model(32)
    with pytest.raises(ValueError, match="64³"):
        predict_eta(model, _counts(2, n=40), axis=0)
    with pytest.raises(ValueError, match="axis"):
        predict_eta(model, _counts(2), axis=3)


def test_predict_restores_training_mode() -> None:
    model = _model(32).train()
    predict_eta_all_axes(model, _counts(1))
    assert model.training


def test_block_counts_feed_the_model() -> None:
    structure = np.zeros((64, 64, 64), dtype=np.uint8)
    counts = torch.as_tensor(block_counts(structure))
    assert predict_eta_all_axes(_model(32), counts[None]).shape == (1, 3)


@pytest.mark.cuda
def test_cuda_prediction_agrees_with_cpu() -> None:
    model, counts = _model(32), _counts(6)
    cpu = predict_eta_all_axes(model, counts)
    gpu = predict_eta_all_axes(model.to("cuda"), counts, device="cuda", precision="bf16").cpu()
    assert torch.allclose(cpu, gpu, atol=2e-2)  # bf16 autocast
    gpu32 = predict_eta_all_axes(model, counts, device="cuda").cpu()
    assert torch.allclose(cpu, gpu32, atol=1e-3)
