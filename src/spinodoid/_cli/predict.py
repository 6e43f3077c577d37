"""``spinodoid predict``: CNN prediction of η along x, y and z for structure files."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from spinodoid import AXES

if TYPE_CHECKING:
    import torch

    from spinodoid.surrogates.cnn import SpinodoidCNN

__all__ = ["register", "run", "structure_counts"]

_EPILOG = """\
example:
  spinodoid generate --theta 0.092 0.135 0.245 0.666 --seed 0 --size 192 -o case1.h5
  spinodoid predict --model results/model/best.pt case1.h5 --json

FILE is what `spinodoid generate` writes (.h5 or .npy, uint8, 1 = solid). The
structure must have the size the model was trained for (N = 2 x its input size).
With --json, one JSON object per file and line: {"file": ..., "eta": {"x": ..., ...}}.
"""

#: Structures per forward pass (3 orientations each).
_FILES_PER_PASS = 16


def register(subparsers: Any) -> None:
    """Add the ``predict`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "predict",
        help="predict eta along x, y, z with a trained CNN",
        description="Predict the effective diffusivity eta = D_eff / D along x, y and z "
        "of structure files with the trained CNN (Röding et al. 2022).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, metavar="CKPT", help="best.pt or last.pt")
    parser.add_argument("files", nargs="+", metavar="FILE", help="structure files (.h5, .npy)")
    parser.add_argument("--json", action="store_true", help="one JSON object per file and line")
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: auto"
    )
    parser.set_defaults(func=run)


def structure_counts(path: str, model: SpinodoidCNN, meta: dict[str, Any]) -> torch.Tensor:
    """Block counts uint8 (n, n, n) of the structure in ``path``, checked against the model."""
    import torch

    from spinodoid.formats.structure_file import load_structure
    from spinodoid.surrogates.cnn_input import block_counts

    voxels = load_structure(path).voxels
    size = int(meta.get("size", 2 * model.input_size))
    if voxels.ndim != 3 or voxels.shape != (size, size, size):
        raise ValueError(
            f"{path} holds a structure of shape {voxels.shape}, but the model was trained on "
            f"{size}³ structures ({model.input_size}³ block counts); generate it with --size {size}"
        )
    return torch.as_tensor(block_counts(voxels))


def _predict_files(
    files: Sequence[str], model: SpinodoidCNN, meta: dict[str, Any], device: torch.device
) -> list[list[float]]:
    """η (x, y, z) for each file, in order."""
    import torch

    from spinodoid.surrogates.cnn import predict_eta_all_axes

    rows: list[list[float]] = []
    for start in range(0, len(files), _FILES_PER_PASS):
        chunk = files[start : start + _FILES_PER_PASS]
        counts = torch.stack([structure_counts(f, model, meta) for f in chunk])
        rows += predict_eta_all_axes(model, counts, device=device).cpu().tolist()
    return rows


def run(args: argparse.Namespace) -> int:
    """Print η per file and axis; exit status 0."""
    from spinodoid.surrogates.cnn import load_model, resolve_device

    device = resolve_device(args.device)
    model, meta = load_model(args.model, device)
    for path, eta in zip(args.files, _predict_files(args.files, model, meta, device), strict=True):
        values = dict(zip(AXES, (round(v, 6) for v in eta), strict=True))
        if args.json:
            print(json.dumps({"file": path, "eta": values, "model": args.model}))
        else:
            text = "  ".join(f"eta_{axis}={value:.4f}" for axis, value in values.items())
            print(f"{path}: {text}")
    return 0
