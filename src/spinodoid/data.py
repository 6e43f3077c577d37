"""The CNN's dataset: a zarr store of 2x2x2 block counts, a torch Dataset and batch augmentation.

SPEC §2 and §4 (paper: "Convolutional neural network" and Methods). The store written by
:func:`assemble_dataset` is a zarr v3 group with these arrays (``n`` structures, ``M = N/2``):

``inputs``  (n, M, M, M) uint8   solid voxels per 2x2x2 block (0..8), axes (x, y, z), one
                                 structure per chunk, zstd-compressed
``eta``     (n, 3) float32       η along (x, y, z), each in (0, 1)
``theta``   (n, 4) float64       (a_x, a_y, a_z, eps)
``seed``    (n,) int64           structure seed ω
``split``   (n,) uint8           0 = train, 1 = val, 2 = test (``SPLITS``)
``source_shard`` (n,) int32      index into the ``shards`` attribute (shard file names)
``source_index`` (n,) int32      structure index within that shard

Axis convention of a dataset item (SPEC §4, "transport direction first"): the block counts of
transport axis ``a`` are ``np.moveaxis(counts, a, 0)``, so the two lateral axes keep their
order: x -> (x, y, z), y -> (y, x, z), z -> (z, x, y).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import h5py
import numpy as np
import pandas as pd
import torch
import zarr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm import tqdm
from zarr.codecs import ZstdCodec

from spinodoid import AXES, __version__
from spinodoid.sampling import read_shard_h5

__all__ = [
    "FIGURE_NAMES",
    "INPUT_CODEC_LEVEL",
    "SPLITS",
    "Augmentation",
    "SpinodoidDataset",
    "apply_augmentation",
    "assemble_dataset",
    "augment_batch",
    "block_counts",
    "dataset_summary",
    "draw_augmentation",
    "to_model_input",
]

logger = logging.getLogger(__name__)

SPLITS: tuple[str, str, str] = ("train", "val", "test")
FIGURE_NAMES: tuple[str, str, str] = ("eta_hist.png", "eta_xy_scatter.png", "theta_dist.png")
THETA_NAMES: tuple[str, str, str, str] = ("a_x", "a_y", "a_z", "eps")
# Chosen by benchmarks/loader.py on 96^3 counts: 6.8x smaller than raw (130 of 885 kB), read
# 1.6 ms per chunk on the H100 host, vs 6.1x / 1.7 ms for zstd-1 and 6.4x / 3.5 ms for gzip-5.
INPUT_CODEC_LEVEL = 9
# Stream id mixed into the master seed so the split permutation is independent of structure seeds.
_SPLIT_STREAM = 5

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def block_counts(structure: ArrayT) -> ArrayT:
    """Count the solid voxels in each non-overlapping 2x2x2 block (SPEC §4, paper: 96^3 in 0..8).

    Parameters
    ----------
    structure : numpy.ndarray or torch.Tensor, shape (..., N, N, N), values 0/1 (1 = solid)
        Any leading batch dimensions; N must be even.

    Returns
    -------
    Same type as the input, shape (..., N/2, N/2, N/2), dtype uint8, values 0..8; a tensor stays
    on its device.
    """
    *lead, nx, ny, nz = structure.shape
    if nx % 2 or ny % 2 or nz % 2:
        raise ValueError(f"block counts need even sizes, got {tuple(structure.shape[-3:])}")
    blocks = structure.reshape(*lead, nx // 2, 2, ny // 2, 2, nz // 2, 2)
    if isinstance(structure, torch.Tensor):
        return blocks.sum(dim=(-5, -3, -1), dtype=torch.uint8)
    return blocks.sum(axis=(-5, -3, -1), dtype=np.uint8)


def to_model_input(counts: torch.Tensor) -> torch.Tensor:
    """Rescale block counts to the CNN input range and add the channel dimension.

    SPEC §4: "rescaled to [−1/2, 1/2]", i.e. counts / 8 − 1/2.

    Parameters
    ----------
    counts : torch.Tensor uint8, shape (B, n, n, n) (or (n, n, n)), values 0..8

    Returns
    -------
    torch.Tensor float32, shape (B, 1, n, n, n) (or (1, n, n, n)), values in [−0.5, 0.5]
    """
    return (counts.to(torch.float32) / 8.0 - 0.5).unsqueeze(-4)


@dataclass(frozen=True)
class Augmentation:
    """One draw of the paper's lateral augmentation per sample (2·2·2·n² variants, Methods).

    The lateral axes are the last two dimensions of a batch. Applied in this order: swap the two
    lateral axes (``swap``), flip them (``flip[:, 0]`` for dim −2, ``flip[:, 1]`` for dim −1), then
    circularly shift them (``torch.roll`` by ``shift[:, 0]`` along dim −2, ``shift[:, 1]`` along
    dim −1).

    Attributes
    ----------
    swap : torch.Tensor bool, shape (B,)
    flip : torch.Tensor bool, shape (B, 2)
    shift : torch.Tensor int64, shape (B, 2), values in [0, n)
    """

    swap: torch.Tensor
    flip: torch.Tensor
    shift: torch.Tensor


def draw_augmentation(batch: int, n: int, generator: torch.Generator) -> Augmentation:
    """Draw swaps, flips and shifts uniformly for ``batch`` samples of lateral size ``n``.

    The draws are made on ``generator``'s device, so a CUDA generator keeps them on the GPU.
    """
    device = generator.device
    swap = torch.randint(0, 2, (batch,), generator=generator, device=device).bool()
    flip = torch.randint(0, 2, (batch, 2), generator=generator, device=device).bool()
    shift = torch.randint(0, n, (batch, 2), generator=generator, device=device)
    return Augmentation(swap=swap, flip=flip, shift=shift)


def _source_plane_index(aug: Augmentation, n: int, device: torch.device) -> torch.Tensor:
    """Flat source index into the n x n lateral plane for every output position.

    Returns int64 (B, n*n): output (j, k) of sample b reads input (r, c) = divmod(index, n).
    """
    swap = aug.swap.to(device).view(-1, 1, 1)
    flip = aug.flip.to(device).view(-1, 2, 1, 1)
    shift = aug.shift.to(device).view(-1, 2, 1, 1)
    grid = torch.arange(n, device=device)
    j, k = grid.view(1, n, 1), grid.view(1, 1, n)
    p = torch.remainder(j - shift[:, 0], n)  # undo the roll
    q = torch.remainder(k - shift[:, 1], n)
    u = torch.where(flip[:, 0], n - 1 - p, p)  # undo the flips
    v = torch.where(flip[:, 1], n - 1 - q, q)
    row = torch.where(swap, v, u)  # undo the swap
    col = torch.where(swap, u, v)
    return (row * n + col).reshape(-1, n * n)


def apply_augmentation(x: torch.Tensor, aug: Augmentation) -> torch.Tensor:
    """Apply per-sample lateral swaps, flips and circular shifts with one gather.

    Parameters
    ----------
    x : torch.Tensor, shape (B, ..., n, n), any dtype; the last two dimensions are the lateral
        axes (for the CNN: (B, n, n, n) or (B, C, n, n, n) with the transport axis at dim −3).
    aug : Augmentation with B samples.

    Returns
    -------
    torch.Tensor of the same shape, dtype and device; η along the transport axis is unchanged
    because the structures are periodic laterally (SPEC §3) and the lateral faces are symmetric.
    """
    n = x.shape[-1]
    if x.shape[-2] != n:
        raise ValueError(f"lateral axes must be square, got {tuple(x.shape[-2:])}")
    batch = x.shape[0]
    index = _source_plane_index(aug, n, x.device)
    flat = x.reshape(batch, -1, n * n)
    out = torch.gather(flat, -1, index.view(batch, 1, n * n).expand_as(flat))
    return out.reshape(x.shape)


def augment_batch(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random lateral flips, swap and circular shifts per sample (paper, Methods; SPEC §4).

    Parameters
    ----------
    x : torch.Tensor (B, n, n, n) or (B, C, n, n, n), transport axis at dim −3.
    generator : torch.Generator supplying all randomness (on any device).

    Returns
    -------
    torch.Tensor of the same shape, dtype and device as ``x``.
    """
    return apply_augmentation(x, draw_augmentation(x.shape[0], x.shape[-1], generator))


class SpinodoidDataset(torch.utils.data.Dataset):
    """One split of the zarr store, each structure three times (one per transport axis).

    Item ``i`` is structure ``indices[i // 3]`` with transport axis ``i % 3`` (0 = x): returns
    ``(x, y)`` with ``x`` torch.uint8 (M, M, M) block counts, ``np.moveaxis(counts, axis, 0)``
    (lateral axes keep their order), and ``y`` torch.float32 scalar η along that axis.
    Inputs are read lazily, one zarr chunk per item; the object pickles without open handles,
    so DataLoader workers (fork or spawn) each open the store themselves.

    Parameters
    ----------
    store_path : path of the store written by :func:`assemble_dataset`
    split : "train", "val" or "test"
    in_memory : read the split's inputs once into RAM (uint8, (M^3) bytes per structure: 7.2 GB
        for the paper's 8192 training structures) instead of one chunk per item; forked
        DataLoader workers share that copy. Faster per item (benchmarks/loader.py).
    """

    def __init__(
        self, store_path: str | os.PathLike[str], split: str, in_memory: bool = False
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.store_path = Path(store_path)
        self.split = split
        group = zarr.open_group(self.store_path, mode="r")
        codes = np.asarray(group["split"][:])
        self.indices: np.ndarray = np.flatnonzero(codes == SPLITS.index(split))
        self.eta: np.ndarray = np.asarray(group["eta"][:])[self.indices].astype(np.float32)
        self.size: int = int(group.attrs["N"])
        self._inputs: zarr.Array | None = None
        self._memory: np.ndarray | None = self._load_split() if in_memory else None

    def _load_split(self) -> np.ndarray:
        """All inputs of this split, uint8 (len(indices), M, M, M), in ``indices`` order."""
        rows = [
            np.asarray(self.inputs[int(row)])
            for row in tqdm(self.indices, desc=f"load {self.split}", unit="structure")
        ]
        m = self.size // 2
        return np.stack(rows) if rows else np.empty((0, m, m, m), dtype=np.uint8)

    def __len__(self) -> int:
        return 3 * len(self.indices)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_inputs"] = None
        return state

    @property
    def inputs(self) -> zarr.Array:
        """The store's ``inputs`` array, opened on first use in this process."""
        if self._inputs is None:
            self._inputs = zarr.open_array(self.store_path / "inputs", mode="r")
        return self._inputs

    def source(self, i: int) -> tuple[int, int]:
        """(row in the store, transport axis 0..2) of item ``i``."""
        if not 0 <= i < len(self):
            raise IndexError(f"item {i} out of range for {len(self)} items")
        return int(self.indices[i // 3]), i % 3

    def targets(self) -> torch.Tensor:
        """η of every item in item order, torch.float32 (len(self),)."""
        return torch.from_numpy(self.eta.reshape(-1).copy())

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        row, axis = self.source(i)
        full = self.inputs[row] if self._memory is None else self._memory[i // 3]
        counts = np.moveaxis(np.asarray(full), axis, 0)
        y = torch.tensor(self.eta[i // 3, axis], dtype=torch.float32)
        return torch.from_numpy(np.array(counts, order="C")), y


@dataclass(frozen=True)
class _ShardPlan:
    """Which structures of one shard go into the store (the first ``used``)."""

    shard_path: Path
    eta_path: Path
    used: int


def _plan_shards(
    shard_paths: Sequence[os.PathLike[str]], eta_paths: Sequence[os.PathLike[str]], needed: int
) -> list[_ShardPlan]:
    """Take structures in shard order until ``needed`` are covered; fail if there are fewer."""
    if len(shard_paths) != len(eta_paths):
        raise ValueError(f"{len(shard_paths)} shard files but {len(eta_paths)} η files")
    plans, total = [], 0
    for shard_path, eta_path in zip(shard_paths, eta_paths, strict=True):
        available = len(read_shard_h5(shard_path, load_structures=False).seed)
        used = min(available, needed - total)
        if used > 0:
            plans.append(_ShardPlan(Path(shard_path), Path(eta_path), used))
        total += available
    if total < needed:
        raise ValueError(
            f"the {len(shard_paths)} shards hold {total} structures but "
            f"n_train + n_val + n_test = {needed} are needed"
        )
    return plans


def _refuse(plan: _ShardPlan, index: int, axis: int | None, reason: str) -> ValueError:
    """The error for a bad η: names the shard file, the structure index and the direction."""
    where = f"structure {index}" if axis is None else f"structure {index}, direction {AXES[axis]}"
    return ValueError(
        f"refusing to assemble: shard {plan.shard_path}, {where}: {reason} (η file {plan.eta_path})"
    )


def _checked_eta(plan: _ShardPlan) -> tuple[np.ndarray, str, str]:
    """Read and check η of the used structures of one shard.

    Returns (eta float32 (used, 3), solver, interface); raises ValueError naming the shard file
    and structure index when an η is missing, NaN, outside (0, 1) or not converged.
    """
    if not plan.eta_path.is_file():
        raise _refuse(plan, 0, None, "η file missing")
    with h5py.File(plan.eta_path, "r") as f:
        eta = np.asarray(f["eta"][:], dtype=np.float64) if "eta" in f else np.empty((0, 3))
        converged = np.asarray(f["converged"][:], dtype=bool) if "converged" in f else None
        solver, interface = str(f.attrs.get("solver", "")), str(f.attrs.get("interface", ""))
    if eta.ndim != 2 or eta.shape[1] != 3:
        raise _refuse(plan, 0, None, f"η has shape {eta.shape}, expected (n, 3)")
    if eta.shape[0] < plan.used:
        raise _refuse(plan, eta.shape[0], None, f"η missing (the η file has {eta.shape[0]} rows)")
    if converged is None or converged.shape[0] < plan.used:
        rows = 0 if converged is None else converged.shape[0]
        raise _refuse(plan, rows, None, f"convergence flag missing (the η file has {rows} rows)")
    eta32 = eta[: plan.used].astype(np.float32)
    checks = (
        (~np.isfinite(eta32), "not a number"),
        ((eta32 <= 0) | (eta32 >= 1), "outside (0, 1)"),
        (~converged[: plan.used], "solver not converged"),
    )
    for bad, reason in checks:
        if bad.any():
            index, axis = (int(v) for v in np.argwhere(bad)[0])
            raise _refuse(plan, index, axis, f"η = {eta32[index, axis]}: {reason}")
    return eta32, solver, interface


def _split_codes(n_train: int, n_val: int, n_test: int, split_seed: int) -> np.ndarray:
    """Split code per structure (0 train, 1 val, 2 test) from a permutation fixed by the seed."""
    n = n_train + n_val + n_test
    order = np.random.default_rng([split_seed, _SPLIT_STREAM]).permutation(n)
    codes = np.empty(n, dtype=np.uint8)
    codes[order[:n_train]] = 0
    codes[order[n_train : n_train + n_val]] = 1
    codes[order[n_train + n_val :]] = 2
    return codes


def _json_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Plain-JSON copy of user attributes (Snakemake's config holds dict subclasses)."""
    return json.loads(json.dumps(dict(attrs), default=str))


def _create_arrays(group: zarr.Group, n: int, size: int) -> dict[str, zarr.Array]:
    m = size // 2
    inputs = group.create_array(
        "inputs",
        shape=(n, m, m, m),
        chunks=(1, m, m, m),
        dtype="uint8",
        compressors=ZstdCodec(level=INPUT_CODEC_LEVEL),
        dimension_names=("structure", "x", "y", "z"),
        fill_value=0,
    )
    small = {
        "eta": ((n, 3), "float32", ("structure", "axis")),
        "theta": ((n, 4), "float64", ("structure", "parameter")),
        "seed": ((n,), "int64", ("structure",)),
        "split": ((n,), "uint8", ("structure",)),
        "source_shard": ((n,), "int32", ("structure",)),
        "source_index": ((n,), "int32", ("structure",)),
    }
    arrays = {"inputs": inputs}
    for name, (shape, dtype, dims) in small.items():
        arrays[name] = group.create_array(
            name, shape=shape, chunks=shape, dtype=dtype, dimension_names=dims, fill_value=0
        )
    return arrays


def _unique_attr(values: list[str], name: str) -> str:
    if len(set(values)) != 1:
        raise ValueError(f"refusing to assemble: the η files mix {name}s {sorted(set(values))}")
    return values[0]


def _write_store(path: Path, plans: list[_ShardPlan], etas: list[np.ndarray], n: int) -> int:
    """Create the store's arrays at ``path`` and fill them shard by shard; returns N."""
    group = zarr.create_group(path, zarr_format=3)
    size, offset, arrays = None, 0, {}
    for shard_number, (plan, eta) in enumerate(
        tqdm(list(zip(plans, etas, strict=True)), desc="assemble", unit="shard")
    ):
        shard = read_shard_h5(plan.shard_path)
        if size is None:
            size = int(shard.size)
            arrays = _create_arrays(group, n, size)
        elif int(shard.size) != size:
            raise ValueError(
                f"refusing to assemble: {plan.shard_path} has N = {shard.size}, not {size}"
            )
        rows = slice(offset, offset + plan.used)
        arrays["inputs"][rows] = block_counts(np.asarray(shard.structures[: plan.used]))
        arrays["eta"][rows] = eta
        arrays["theta"][rows] = np.asarray(shard.theta[: plan.used], dtype=np.float64)
        arrays["seed"][rows] = np.asarray(shard.seed[: plan.used], dtype=np.int64)
        arrays["source_shard"][rows] = shard_number
        arrays["source_index"][rows] = np.arange(plan.used, dtype=np.int32)
        offset += plan.used
    return size


def _store_attrs(
    size: int,
    plans: list[_ShardPlan],
    counts: tuple[int, int, int],
    split_seed: int,
    checked: list[tuple[np.ndarray, str, str]],
    attrs: Mapping[str, Any],
) -> dict[str, Any]:
    """The attributes that make a store self-describing (N, provenance, solver, version, time)."""
    return {
        **_json_attrs(attrs),
        "N": size,
        "input_size": size // 2,
        "structures": sum(counts),
        "splits": list(SPLITS),
        "split_counts": dict(zip(SPLITS, counts, strict=True)),
        "split_seed": int(split_seed),
        "solver": _unique_attr([c[1] for c in checked], "solver"),
        "interface": _unique_attr([c[2] for c in checked], "interface"),
        "shards": [plan.shard_path.name for plan in plans],
        "axes": list(AXES),
        "inputs": "solid voxels per 2x2x2 block (0..8), axes (x, y, z)",
        "package_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def assemble_dataset(
    shard_paths: Sequence[os.PathLike[str]],
    eta_paths: Sequence[os.PathLike[str]],
    out_path: os.PathLike[str],
    n_train: int,
    n_val: int,
    n_test: int,
    split_seed: int,
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Gather shards and their η into one zarr v3 store (layout in the module docstring).

    The first ``n_train + n_val + n_test`` structures in shard order are used and assigned to
    splits by a permutation fixed by ``split_seed``. Every η is checked before anything is
    written; the store is written under a temporary name and renamed at the end, so a failed run
    never leaves a complete-looking store.

    Parameters
    ----------
    shard_paths, eta_paths : matching lists of ``shard_*.h5`` and ``shard_*.eta.h5`` files
    out_path : the store directory, e.g. ``results/dataset.zarr`` (replaced if it exists)
    n_train, n_val, n_test : structures per split (SPEC §2; paper 8192 / 2048 / 2048)
    split_seed : seed of the split permutation (the pipeline passes the master seed)
    attrs : extra JSON-serialisable store attributes, e.g. ``{"config": config}``

    Returns
    -------
    The store path.
    """
    out_path = Path(out_path)
    needed = n_train + n_val + n_test
    plans = _plan_shards(shard_paths, eta_paths, needed)
    checked = [_checked_eta(plan) for plan in plans]
    _unique_attr([c[1] for c in checked], "solver")
    _unique_attr([c[2] for c in checked], "interface")
    tmp_path = out_path.with_name(f"{out_path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp_path, ignore_errors=True)
    try:
        size = _write_store(tmp_path, plans, [c[0] for c in checked], needed)
        group = zarr.open_group(tmp_path, mode="r+")
        group["split"][:] = _split_codes(n_train, n_val, n_test, split_seed)
        group.attrs.update(
            _store_attrs(size, plans, (n_train, n_val, n_test), split_seed, checked, attrs or {})
        )
    except BaseException:
        shutil.rmtree(tmp_path, ignore_errors=True)
        raise
    if out_path.exists():
        shutil.rmtree(out_path)
    os.replace(tmp_path, out_path)
    logger.info(
        "wrote %s: %d structures of N = %d from %d shards", out_path, needed, size, len(plans)
    )
    return out_path


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 1 else float("nan")


def _summary_row(name: str, eta: np.ndarray, theta: np.ndarray) -> dict[str, Any]:
    row: dict[str, Any] = {"split": name, "structures": len(eta)}
    for axis, label in enumerate(AXES):
        row[f"eta_{label}_mean"] = float(eta[:, axis].mean())
        row[f"eta_{label}_std"] = float(eta[:, axis].std(ddof=1)) if len(eta) > 1 else float("nan")
    row["eta_min"], row["eta_max"] = float(eta.min()), float(eta.max())
    for i, j in ((0, 1), (0, 2), (1, 2)):
        row[f"r_{AXES[i]}{AXES[j]}"] = _pearson(eta[:, i], eta[:, j])
    for k, label in enumerate(THETA_NAMES):
        row[f"{label}_mean"] = float(theta[:, k].mean())
    return row


def _save_figure(fig: Figure, path: Path) -> None:
    """Write a PNG via a temporary name and rename (no half-written figure)."""
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    FigureCanvasAgg(fig)
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)


def _eta_hist_figure(eta: np.ndarray) -> Figure:
    fig = Figure(figsize=(10, 3.2), layout="constrained")
    bins = np.linspace(0, 1, 41)
    for axis, ax in enumerate(fig.subplots(1, 3, sharey=True)):
        ax.hist(eta[:, axis], bins=bins, color=f"C{axis}")
        ax.set_xlabel(f"η_{AXES[axis]}")
    fig.axes[0].set_ylabel("structures")
    fig.suptitle("Effective diffusivity per direction (paper Fig. 3)")
    return fig


def _eta_scatter_figure(eta: np.ndarray) -> Figure:
    fig = Figure(figsize=(4.5, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.scatter(eta[:, 0], eta[:, 1], s=4, alpha=0.5)
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="η_x", ylabel="η_y", aspect="equal")
    ax.set_title(f"Pearson r = {_pearson(eta[:, 0], eta[:, 1]):.3f} (paper: r ≈ 0.88)")
    return fig


def _theta_figure(theta: np.ndarray) -> Figure:
    fig = Figure(figsize=(12, 3.2), layout="constrained")
    for k, ax in enumerate(fig.subplots(1, 4)):
        ax.hist(theta[:, k], bins=30, color=f"C{k}")
        ax.set_xlabel(THETA_NAMES[k])
    fig.axes[0].set_ylabel("accepted structures")
    fig.suptitle("θ after the connectivity rejection")
    return fig


def dataset_summary(
    store_path: os.PathLike[str], figure_dir: os.PathLike[str] | None = None
) -> pd.DataFrame:
    """Statistics of a store per split, and optionally the paper's Fig. 3 style figures.

    Parameters
    ----------
    store_path : a store written by :func:`assemble_dataset`
    figure_dir : if given, writes ``FIGURE_NAMES`` there: η histograms per direction, the
        η_x–η_y scatter with Pearson r in its title (paper: r ≈ 0.88), θ marginals.

    Returns
    -------
    pandas.DataFrame, one row per split and one for "all": structures, mean and standard
    deviation of η per direction, η range, Pearson r of each pair of directions, mean θ.
    """
    group = zarr.open_group(Path(store_path), mode="r")
    eta = np.asarray(group["eta"][:], dtype=np.float64)
    theta = np.asarray(group["theta"][:], dtype=np.float64)
    codes = np.asarray(group["split"][:])
    rows = [_summary_row(name, eta[codes == k], theta[codes == k]) for k, name in enumerate(SPLITS)]
    rows.append(_summary_row("all", eta, theta))
    if figure_dir is not None:
        out = Path(figure_dir)
        out.mkdir(parents=True, exist_ok=True)
        figures = (_eta_hist_figure(eta), _eta_scatter_figure(eta), _theta_figure(theta))
        for name, fig in zip(FIGURE_NAMES, figures, strict=True):
            _save_figure(fig, out / name)
    return pd.DataFrame(rows)
