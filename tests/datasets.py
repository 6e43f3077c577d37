"""Synthetic shards, η files and dataset stores for the data tests (a helper module).

The ``shards`` fixture built from them lives in tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from spinodoid.formats.dataset import assemble_dataset
from spinodoid.formats.shards import Shard, write_shard_h5

SIZE = 8  # structure size N of the synthetic shards; block counts are 4^3


def write_synthetic_shard(path: Path, index: int, n: int, rng: np.random.Generator) -> Shard:
    structures = (rng.random((n, SIZE, SIZE, SIZE)) < 0.5).astype(np.uint8)
    shard = Shard(
        index=index,
        size=SIZE,
        base_seed=1,
        structures=structures,
        theta=rng.uniform(0.05, 0.85, (n, 4)),
        seed=np.arange(100 * index, 100 * index + n, dtype=np.int64),
    )
    write_shard_h5(shard, path)
    return shard


def write_synthetic_eta(path: Path, eta: np.ndarray, converged: np.ndarray | None = None) -> None:
    converged = np.ones(eta.shape, dtype=bool) if converged is None else converged
    with h5py.File(path, "w") as f:
        f["eta"] = eta
        f["converged"] = converged
        f["iterations"] = np.full(eta.shape, 100, dtype=np.int64)
        f.attrs["solver"] = "lbm"
        f.attrs["interface"] = "subvoxel"


def assemble_store(shards, out: Path, counts=(5, 3, 2), seed: int = 3) -> Path:
    shard_paths, eta_paths, _, _ = shards
    return assemble_dataset(
        shard_paths, eta_paths, out, *counts, split_seed=seed, attrs={"config": {"seed": seed}}
    )
