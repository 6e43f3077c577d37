"""Shared pytest configuration.

- The tools of the running interpreter's environment (snakemake, snakefmt, spinodoid) come first
  on PATH, so the tests work when the virtual environment is not activated
  (``.venv/bin/python -m pytest``).
- Tests marked ``cuda`` skip with a reason when no GPU is present.
- ``shards``: three synthetic shard files with their η files (tests/datasets.py).
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.datasets import write_synthetic_eta, write_synthetic_shard

os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (run benchmarks/gpu.sh on a GPU machine)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def shards(tmp_path: Path) -> tuple[list[Path], list[Path], list, list]:
    """Three shards of 4, 4 and 3 structures with distinct synthetic η (structure k: 0.1+k/100)."""
    rng = np.random.default_rng(0)
    shard_paths, eta_paths, contents, etas = [], [], [], []
    for index, n in enumerate((4, 4, 3)):
        shard_path = tmp_path / f"shard_{index:05d}.h5"
        eta_path = tmp_path / f"shard_{index:05d}.eta.h5"
        contents.append(write_synthetic_shard(shard_path, index, n, rng))
        eta = 0.1 + (4 * index + np.arange(n))[:, None] / 100 + np.array([0.0, 0.2, 0.4])
        write_synthetic_eta(eta_path, eta)
        shard_paths.append(shard_path)
        eta_paths.append(eta_path)
        etas.append(eta)
    return shard_paths, eta_paths, contents, etas
