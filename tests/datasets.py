"""Synthetic shards, η files and dataset stores for the data tests (a helper module).

The ``shards`` fixture built from them lives in tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from spinodoid.formats.dataset import assemble_dataset
from spinodoid.formats.shards import Shard, write_shard_h5
from spinodoid.structures.grf import generate_structure
from spinodoid.structures.prior import sample_prior

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


def learnable_eta(structure: np.ndarray) -> np.ndarray:
    """A porosity-dominated η per direction, in (0, 1): 0.9 ε^1.5 for x, y and z."""
    eps = 1.0 - structure.mean()
    return np.full(3, 0.9 * eps**1.5)


def write_learnable_store(root: Path, n_train: int, n_val: int, n_test: int, size: int) -> Path:
    """A zarr store of GRF structures (N = ``size``) with :func:`learnable_eta`, assembled."""
    n = n_train + n_val + n_test
    theta = sample_prior(np.random.default_rng(0), n)
    structures = np.stack([generate_structure(t, i, size) for i, t in enumerate(theta)])
    shard = Shard(0, size, 0, structures, theta, np.arange(n, dtype=np.int64))
    write_shard_h5(shard, root / "shard_00000.h5")
    with h5py.File(root / "shard_00000.eta.h5", "w") as f:
        f["eta"] = np.stack([learnable_eta(s) for s in structures])
        f["converged"] = np.ones((n, 3), dtype=bool)
        f.attrs.update(solver="test", interface="voxel")
    return assemble_dataset(
        [root / "shard_00000.h5"], [root / "shard_00000.eta.h5"], root / "dataset.zarr",
        n_train, n_val, n_test, split_seed=1,
    )  # fmt: skip
