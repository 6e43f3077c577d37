"""The dataset store: shards and their η gathered into one zarr v3 group, and its statistics.

The store written by :func:`assemble_dataset` (docs/method.md §2 and §4) has these arrays
(``n`` structures, ``M = N/2``):

``inputs``  (n, M, M, M) uint8   solid voxels per 2x2x2 block (0..8), axes (x, y, z), one
                                 structure per chunk, zstd-compressed
``eta``     (n, 3) float32       η along (x, y, z), each in (0, 1)
``theta``   (n, 4) float64       (a_x, a_y, a_z, eps)
``seed``    (n,) int64           structure seed ω
``split``   (n,) uint8           0 = train, 1 = val, 2 = test (``SPLITS``)
``source_shard`` (n,) int32      index into the ``shards`` attribute (shard file names)
``source_index`` (n,) int32      structure index within that shard

and attributes ``N``, ``input_size``, ``structures``, ``splits``, ``split_counts``,
``split_seed``, ``solver``, ``interface``, ``shards``, ``axes``, ``inputs``,
``package_version``, ``created`` and the caller's (the pipeline stores its ``config``).
The torch view of a split is :class:`spinodoid.surrogates.training_data.SpinodoidDataset`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import zarr
from tqdm import tqdm
from zarr.codecs import ZstdCodec

from spinodoid import AXES, __version__
from spinodoid.formats.atomic import atomic_write
from spinodoid.formats.eta_files import read_eta_h5
from spinodoid.formats.shards import read_shard_h5
from spinodoid.surrogates.cnn_input import block_counts

__all__ = [
    "INPUT_CODEC_LEVEL",
    "SPLITS",
    "split_labels",
    "THETA_NAMES",
    "assemble_dataset",
    "dataset_summary",
    "read_labels",
    "read_seeds",
]

logger = logging.getLogger(__name__)


SPLITS: tuple[str, str, str] = ("train", "val", "test")


THETA_NAMES: tuple[str, str, str, str] = ("a_x", "a_y", "a_z", "eps")


INPUT_CODEC_LEVEL = 9


_SPLIT_STREAM = 5


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
    record = read_eta_h5(plan.eta_path)
    eta, converged = record.eta, record.converged
    solver, interface = record.solver, record.interface
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
    n_train, n_val, n_test : structures per split (docs/method.md §2; paper 8192 / 2048 / 2048)
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
    with atomic_write(out_path) as tmp_path:
        size = _write_store(tmp_path, plans, [c[0] for c in checked], needed)
        group = zarr.open_group(tmp_path, mode="r+")
        group["split"][:] = _split_codes(n_train, n_val, n_test, split_seed)
        group.attrs.update(
            _store_attrs(size, plans, (n_train, n_val, n_test), split_seed, checked, attrs or {})
        )
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


def read_labels(store_path: os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """η float64 (n, 3), θ float64 (n, 4) and the split codes uint8 (n,) of a store."""
    group = zarr.open_group(Path(store_path), mode="r")
    eta = np.asarray(group["eta"][:], dtype=np.float64)
    theta = np.asarray(group["theta"][:], dtype=np.float64)
    return eta, theta, np.asarray(group["split"][:])


def read_seeds(store_path: os.PathLike[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """The structure seeds (n,) and the store's attributes (``N``, ``solver``, ``interface``,
    ...): with θ from :func:`read_labels` they regenerate every structure of the store."""
    group = zarr.open_group(Path(store_path), mode="r")
    return np.asarray(group["seed"][:]), dict(group.attrs)


def split_labels(
    store_path: os.PathLike[str], splits: Sequence[str] = ("train",)
) -> tuple[np.ndarray, np.ndarray]:
    """θ float64 (n, 4) and solver η float64 (n, 3) of the structures in ``splits`` (names
    of :data:`SPLITS`), in the store's order."""
    eta, theta, split = read_labels(store_path)
    keep = np.isin(split, [SPLITS.index(name) for name in splits])
    return theta[keep], eta[keep]


def dataset_summary(store_path: os.PathLike[str]) -> pd.DataFrame:
    """Statistics of a store per split (its figures: :func:`spinodoid.plotting.dataset_figures`).

    Parameters
    ----------
    store_path : a store written by :func:`assemble_dataset`

    Returns
    -------
    pandas.DataFrame, one row per split and one for "all": structures, mean and standard
    deviation of η per direction, η range, Pearson r of each pair of directions, mean θ.
    """
    eta, theta, codes = read_labels(store_path)
    rows = [_summary_row(name, eta[codes == k], theta[codes == k]) for k, name in enumerate(SPLITS)]
    rows.append(_summary_row("all", eta, theta))
    return pd.DataFrame(rows)
