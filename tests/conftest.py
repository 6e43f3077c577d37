"""Shared pytest configuration.

- The tools of the running interpreter's environment (snakemake, snakefmt, spinodoid) come first
  on PATH, so the tests work when the virtual environment is not activated
  (``.venv/bin/python -m pytest``).
- Tests marked ``cuda`` skip with a reason when no GPU is present.
"""

import os
import sys
from pathlib import Path

import pytest

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
