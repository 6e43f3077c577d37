"""The paper's 3D CNN that predicts the logit of η (docs/method.md §4), per axis or jointly.

Input: 2×2×2 block counts of solid voxels (uint8, values 0..8), shape ``(B, n, n, n)``,
``n = N / 2`` (96 at the paper's N = 192), rescaled to ``[-1/2, 1/2]`` by
:func:`spinodoid.surrogates.cnn_input.to_model_input`. Two kinds of model share the network:

- **per axis** (the paper's): the transport direction is the first spatial axis, the output is
  ``logit(η)`` along it, float32 shape ``(B,)``; (η_x, η_y, η_z) of a structure take three
  passes, one per orientation;
- **joint** (``joint_axes=True``, the paper's outlook "predict diffusivity in all directions
  jointly"): the axes stay (x, y, z) and the last layer has three outputs, ``logit`` of
  (η_x, η_y, η_z), float32 shape ``(B, 3)``, in one pass.

Checkpoints are ``torch.save`` dictionaries with at least ``"model"`` (the state dict) and
``"meta"`` (a dict with ``input_size`` n, ``size`` N and ``joint_axes``, False when absent);
they load with ``weights_only=True``.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from spinodoid.formats.atomic import atomic_write
from spinodoid.surrogates.cnn_input import to_model_input

__all__ = [
    "CONV_FILTERS",
    "DENSE_UNITS",
    "NORMALIZATIONS",
    "PRECISIONS",
    "Precision",
    "SpinodoidCNN",
    "autocast_dtype",
    "feature_size",
    "load_model",
    "passes_per_structure",
    "predict_eta",
    "predict_eta_all_axes",
    "predict_eta_pruned",
    "resolve_device",
    "save_checkpoint",
]

log = logging.getLogger(__name__)

#: Filters of the two convolutions in each of the three blocks (paper: 32, 48, 64).
CONV_FILTERS: tuple[int, int, int] = (32, 48, 64)
#: Units of the fully connected layers after the convolutions (paper: 256, 192, 128, 64, then 1).
DENSE_UNITS: tuple[int, ...] = (256, 192, 128, 64)

#: Normalisation after every convolution: ``none`` (the paper's) or ``batch`` (BatchNorm3d
#: between each convolution and its ELU; in eval mode it uses the running statistics).
NORMALIZATIONS: tuple[str, ...] = ("none", "batch")

Precision = Literal["fp32", "bf16", "fp16"]
#: Precisions of the CNN's forward passes in prediction: float32, or autocast to bfloat16 or
#: float16 (on any device; on the CPU both are far slower than float32). The design default is
#: fp32: docs/performance.md, "CNN precision in design", measures how far the others move ρ.
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")


def autocast_dtype(precision: Precision) -> torch.dtype | None:
    """The autocast dtype of a precision (None for fp32); refuses unknown names."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def _block_output_size(size: int) -> tuple[int, bool]:
    """Spatial size after one block (two valid 3×3×3 convolutions, then 2×2×2 pooling).

    Returns the size and whether the block pools. The pooling is skipped only when the
    convolutions leave a single voxel (floor(1 / 2) would be 0); this happens for the
    demo's 32³ input (32→30→28→14→12→10→5→3→1) and never for the paper's 96³.
    """
    conv = size - 4
    if conv < 1:
        raise ValueError(f"input too small: the convolutions of a block reduce {size} to {conv}")
    if conv == 1:
        return 1, False
    return conv // 2, True


def feature_size(input_size: int) -> int:
    """Spatial side of the last feature map for an ``input_size``³ input (8 at 96, 1 at 32)."""
    size = input_size
    for _ in CONV_FILTERS:
        size, _pools = _block_output_size(size)
    return size


class _AvgPool2(nn.Module):
    """2×2×2 average pooling with floor cropping, written as a reshape and a mean.

    Same values as ``nn.AvgPool3d(2)``; its backward is deterministic on CUDA, unlike
    ``avg_pool3d_backward_cuda``, so the deterministic mode can train this network.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``x`` of shape (B, C, D, H, W) to (B, C, D//2, H//2, W//2)."""
        b, c, d, h, w = x.shape
        d2, h2, w2 = d // 2, h // 2, w // 2
        x = x[:, :, : 2 * d2, : 2 * h2, : 2 * w2]
        return x.reshape(b, c, d2, 2, h2, 2, w2, 2).mean(dim=(3, 5, 7))


def _keras_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases, the TensorFlow/Keras defaults the paper used.

    PyTorch's default (Kaiming-uniform with a = √5) shrinks the signal about 3× in variance per
    layer, so through ten layers the untrained output barely depends on the input.
    """
    if isinstance(module, nn.Conv3d | nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class SpinodoidCNN(nn.Module):
    """Röding et al.'s CNN (Fig. 4): three conv blocks and four dense layers, ELU throughout.

    Each block is conv 3×3×3 → ELU → conv 3×3×3 → ELU → avg-pool 2×2×2 with unpadded (valid)
    convolutions and 32, 48, 64 filters; then dense 256 → 192 → 128 → 64 → 1 with ELU after
    every layer but the last; weights start Glorot-uniform, biases zero (Keras defaults). At
    ``input_size = 96`` the flattened features are 64·8³ = 32768
    and the network has 8.8M weights ("approximately 8.8M weights"). The first dense layer
    adapts to other input sizes; a block whose convolutions leave 1³ skips its pooling.

    Parameters
    ----------
    input_size
        Side n of the block-count input (voxels of the 2×2×2-downsampled structure, N / 2).
    joint_axes
        False: the paper's model, logit η along the first spatial axis. True: the last layer
        has three outputs, logit (η_x, η_y, η_z) of the input's axes (module docstring).
    normalization
        ``none`` (the paper's) or ``batch``: BatchNorm3d after every convolution, before its
        ELU (:data:`NORMALIZATIONS`; docs/performance.md, "CNN training recipe").
    """

    def __init__(
        self, input_size: int = 96, joint_axes: bool = False, normalization: str = "none"
    ) -> None:
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}"
            )
        self.input_size = int(input_size)
        self.joint_axes = bool(joint_axes)
        self.normalization = normalization
        layers: list[nn.Module] = []
        channels, size = 1, self.input_size
        for filters in CONV_FILTERS:
            for conv in (nn.Conv3d(channels, filters, 3), nn.Conv3d(filters, filters, 3)):
                layers.append(conv)
                if normalization == "batch":
                    layers.append(nn.BatchNorm3d(filters))
                layers.append(nn.ELU())
            size, pools = _block_output_size(size)
            if pools:
                layers.append(_AvgPool2())
            channels = filters
        self.features = nn.Sequential(*layers)
        dense: list[nn.Module] = [nn.Flatten()]
        width = channels * size**3
        for units in DENSE_UNITS:
            dense += [nn.Linear(width, units), nn.ELU()]
            width = units
        dense.append(nn.Linear(width, 3 if self.joint_axes else 1))
        self.head = nn.Sequential(*dense)
        self.apply(_keras_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict logit(η).

        Parameters
        ----------
        x
            float32 (or autocast) tensor, shape (B, 1, n, n, n), values in [-1/2, 1/2]; for a
            per-axis model the transport direction along the first spatial axis.

        Returns
        -------
        torch.Tensor
            float32 logit(η), shape (B,) (per axis) or (B, 3) (joint, columns x, y, z). The
            last layer always runs in float32, autocast or not: in bfloat16 the logit itself
            would be rounded (steps of 2⁻⁷–2⁻⁶ where |logit| ≥ 1, i.e. η below 0.27 or above
            0.73) before any loss or prediction.
        """
        if x.shape[1:] != (1, self.input_size, self.input_size, self.input_size):
            n = self.input_size
            raise ValueError(f"expected input of shape (B, 1, {n}, {n}, {n}), got {tuple(x.shape)}")
        hidden = self.features(x)
        for layer in self.head[:-1]:
            hidden = layer(hidden)
        device = hidden.device.type  # "meta" (FLOP counting) has no autocast to leave
        with torch.autocast(device, enabled=False) if device != "meta" else nullcontext():
            logits = self.head[-1](hidden.float())
        return logits if self.joint_axes else logits.squeeze(1)


def passes_per_structure(model: SpinodoidCNN) -> int:
    """Forward passes that (η_x, η_y, η_z) of one structure cost: 1 (joint) or 3 (per axis)."""
    return 1 if model.joint_axes else 3


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"auto"`` into cuda when available else cpu; refuse cuda when it is absent."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA device")
    return resolved


def _atomic_save(obj: Mapping[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary name in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        torch.save(dict(obj), tmp)


def save_checkpoint(
    path: str | os.PathLike[str],
    model: SpinodoidCNN,
    meta: Mapping[str, Any],
    **extra: Any,
) -> None:
    """Write ``{"model": state_dict, "meta": meta, **extra}`` atomically (temp file + rename).

    ``meta`` must hold ``size`` (structure side N); ``input_size``, ``joint_axes`` and
    ``normalization`` are taken from the model.
    Values must be tensors, numbers, strings, lists, tuples or dicts so the file loads with
    ``torch.load(weights_only=True)``.
    """
    if "size" not in meta:
        raise ValueError("meta must contain 'size', the structure side N")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    full_meta = {
        **meta,
        "input_size": model.input_size,
        "joint_axes": model.joint_axes,
        "normalization": model.normalization,
    }
    _atomic_save({"model": state, "meta": full_meta, **extra}, Path(path))


def load_model(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[SpinodoidCNN, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_checkpoint` (best.pt, last.pt or checkpoint.pt).

    Returns the model in eval mode on ``device`` and its meta dict (``input_size``, ``size``,
    ``joint_axes``, ``normalization`` and whatever training stored); a file without
    ``joint_axes`` is per axis, one without ``normalization`` has none.
    """
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise ValueError(
            f"{path} is not a spinodoid CNN checkpoint (torch.load, weights only, failed with "
            f"{type(error).__name__}); give best.pt or last.pt written by `train`"
        ) from error
    if not isinstance(payload, dict) or "model" not in payload or "meta" not in payload:
        raise ValueError(f"{path} is not a spinodoid CNN checkpoint (no 'model' and 'meta')")
    meta = dict(payload["meta"])
    meta["joint_axes"] = bool(meta.get("joint_axes", False))
    meta["normalization"] = str(meta.get("normalization", "none"))
    model = SpinodoidCNN(
        input_size=int(meta["input_size"]),
        joint_axes=meta["joint_axes"],
        normalization=meta["normalization"],
    )
    model.load_state_dict(payload["model"])
    return model.to(resolve_device(device)).eval(), meta


def _check_counts(model: SpinodoidCNN, counts: torch.Tensor) -> None:
    """Raise a clear error if ``counts`` is not (B, n, n, n) with n the model's input size."""
    n = model.input_size
    if counts.ndim != 4 or tuple(counts.shape[1:]) != (n, n, n):
        raise ValueError(
            f"block counts of shape {tuple(counts.shape)} do not fit a model for {n}³ inputs "
            f"(structures of size {2 * n}³); expected (B, {n}, {n}, {n})"
        )


def _forward_eta(
    model: SpinodoidCNN, counts: torch.Tensor, device: torch.device, precision: Precision
) -> torch.Tensor:
    """η = sigmoid(model(counts)) for uint8 counts (B, n, n, n): shape (B,) along the first
    axis (per-axis model) or (B, 3) along x, y, z (joint model)."""
    x = to_model_input(counts.to(device, non_blocking=True))
    dtype = autocast_dtype(precision)
    with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        logits = model(x)
    return torch.sigmoid(logits.float())


def _model_device(model: SpinodoidCNN, device: str | torch.device | None) -> torch.device:
    """``device`` if given, else the device of the model's weights."""
    return torch.device(device) if device is not None else next(model.parameters()).device


def predict_eta(
    model: SpinodoidCNN,
    counts: torch.Tensor,
    axis: int,
    device: str | torch.device | None = None,
    batch_size: int = 64,
    precision: Precision = "fp32",
) -> torch.Tensor:
    """CNN prediction of η along ``axis`` for each structure of a batch, in inference mode.

    Parameters
    ----------
    model
        Trained network, already on ``device`` (its device is used when ``device`` is None).
    counts
        uint8 block counts, shape (B, n, n, n), axes (x, y, z), on any device.
    axis
        Transport direction, 0 = x, 1 = y, 2 = z; it is moved to the first spatial axis.
    device
        Where to run.
    batch_size
        Samples per forward pass (bounds memory).
    precision
        ``"fp32"`` (default), or ``"bf16"`` / ``"fp16"`` autocast (:data:`PRECISIONS`).

    Returns
    -------
    torch.Tensor
        float32 η in (0, 1), shape (B,), on ``device``.
    """
    _check_counts(model, counts)
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis}")
    if model.joint_axes:
        return predict_eta_all_axes(model, counts, device, batch_size, precision)[:, axis]
    dev = _model_device(model, device)
    moved = torch.movedim(counts, axis + 1, 1)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        out = [_forward_eta(model, part, dev, precision) for part in moved.split(batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, device=dev)


def predict_eta_all_axes(
    model: SpinodoidCNN,
    counts: torch.Tensor,
    device: str | torch.device | None = None,
    batch_size: int = 63,
    precision: Precision = "fp32",
) -> torch.Tensor:
    """CNN prediction of (η_x, η_y, η_z) for each structure, in inference mode.

    Per-axis model: the three orientations of ``batch_size // 3`` structures at a time go
    through the network in one forward pass of ``3 * (batch_size // 3)`` samples. Joint model:
    one pass of ``batch_size`` structures gives all three.

    Parameters
    ----------
    model, device, precision
        As in :func:`predict_eta`.
    counts
        uint8 block counts, shape (B, n, n, n), axes (x, y, z).
    batch_size
        Samples per forward pass, at least 3.

    Returns
    -------
    torch.Tensor
        float32 η, shape (B, 3), columns (x, y, z), on ``device``.
    """
    _check_counts(model, counts)
    dev = _model_device(model, device)
    per_pass = max(1, batch_size if model.joint_axes else batch_size // 3)
    was_training = model.training
    model.eval()
    out = []
    with torch.inference_mode():
        for part in counts.split(per_pass):
            if model.joint_axes:
                out.append(_forward_eta(model, part, dev, precision))
                continue
            oriented = torch.cat([torch.movedim(part, a + 1, 1) for a in range(3)])
            eta = _forward_eta(model, oriented, dev, precision)
            out.append(eta.reshape(3, -1).T)
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, 3, device=dev)


def predict_eta_pruned(
    model: SpinodoidCNN,
    counts: torch.Tensor,
    keep: Callable[[torch.Tensor], torch.Tensor],
    device: str | torch.device | None = None,
    batch_size: int = 64,
    precision: Precision = "fp32",
) -> torch.Tensor:
    """CNN η along x, then y, then z, each axis only for the structures ``keep`` still wants.

    After the x pass and after the y pass, ``keep(eta)`` sees the η so far (float64, shape
    (B, 3), NaN where not predicted) and returns a bool mask (B,) of the rows worth predicting
    further; a row it drops keeps NaN in the later columns. With a ``keep`` that always says
    True this is :func:`predict_eta_all_axes` in three passes. ABC-PMC uses it to stop
    predicting a candidate whose discrepancy is already known to exceed the tolerance. A joint
    model predicts all three axes in its one pass, so nothing is left to prune.

    Parameters
    ----------
    model, device, precision
        As in :func:`predict_eta`.
    counts
        uint8 block counts, shape (B, n, n, n), axes (x, y, z).
    keep
        Row-wise test on η so far: (B, 3) float64 CPU tensor → (B,) bool.
    batch_size
        Samples per forward pass.

    Returns
    -------
    torch.Tensor
        float64 η, shape (B, 3), columns (x, y, z), on the CPU; NaN where not predicted.
    """
    _check_counts(model, counts)
    if model.joint_axes:
        return predict_eta_all_axes(model, counts, device, batch_size, precision).double().cpu()
    eta = torch.full((len(counts), 3), float("nan"), dtype=torch.float64)
    active = torch.ones(len(counts), dtype=torch.bool)
    for axis in range(3):
        rows = torch.nonzero(active)[:, 0]
        if len(rows) == 0:
            break
        part = counts[rows.to(counts.device)]
        eta[rows, axis] = (
            predict_eta(model, part, axis, device, batch_size, precision).double().cpu()
        )
        if axis < 2:
            active &= torch.as_tensor(keep(eta), dtype=torch.bool)
    return eta
