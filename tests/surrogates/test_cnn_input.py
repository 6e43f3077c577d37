"""Tests of spinodoid.surrogates.cnn_input: 2x2x2 block counts and the rescaled model input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from spinodoid.surrogates.cnn_input import block_counts, to_model_input


def _direct_block_counts(structure: np.ndarray) -> np.ndarray:
    """Reference: explicit loop over blocks and the 8 voxels in each."""
    m = structure.shape[-1] // 2
    out = np.zeros((m, m, m), dtype=np.int64)
    for i, j, k in itertools.product(range(m), repeat=3):
        for di, dj, dk in itertools.product(range(2), repeat=3):
            out[i, j, k] += structure[2 * i + di, 2 * j + dj, 2 * k + dk]
    return out


def test_block_counts_equal_direct_sum() -> None:
    rng = np.random.default_rng(1)
    structure = (rng.random((6, 6, 6)) < 0.4).astype(np.uint8)
    counts = block_counts(structure)
    assert counts.dtype == np.uint8 and counts.shape == (3, 3, 3)
    np.testing.assert_array_equal(counts, _direct_block_counts(structure))


def test_block_counts_batched_numpy_and_torch_agree() -> None:
    rng = np.random.default_rng(2)
    batch = (rng.random((2, 3, 8, 8, 8)) < 0.5).astype(np.uint8)
    counts = block_counts(batch)
    assert counts.shape == (2, 3, 4, 4, 4)
    np.testing.assert_array_equal(counts[1, 2], _direct_block_counts(batch[1, 2]))
    torch_counts = block_counts(torch.from_numpy(batch))
    assert isinstance(torch_counts, torch.Tensor) and torch_counts.dtype == torch.uint8
    np.testing.assert_array_equal(torch_counts.numpy(), counts)


def test_block_counts_full_and_empty_blocks() -> None:
    assert block_counts(np.ones((4, 4, 4), np.uint8)).tolist() == np.full((2, 2, 2), 8).tolist()
    assert block_counts(torch.zeros(4, 4, 4, dtype=torch.uint8)).sum().item() == 0


def test_block_counts_rejects_odd_size() -> None:
    with pytest.raises(ValueError, match="even"):
        block_counts(np.zeros((5, 6, 6), np.uint8))


def test_to_model_input_rescales_to_half_range() -> None:
    counts = torch.tensor([0, 4, 8], dtype=torch.uint8).view(1, 1, 1, 3).expand(2, 3, 3, 3)
    out = to_model_input(counts)
    assert out.shape == (2, 1, 3, 3, 3) and out.dtype == torch.float32
    assert out[0, 0, 0, 0].tolist() == [-0.5, 0.0, 0.5]
