"""The CNN's input: 2x2x2 block counts of solid voxels, rescaled (docs/method.md §4).

A structure of N³ voxels becomes (N/2)³ counts of solid voxels per non-overlapping 2x2x2 block
(0..8, uint8; 96³ at the paper's N = 192), which the network sees as ``counts / 8 − 1/2``.
numpy arrays and torch tensors alike; torch is imported only for tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["block_counts", "to_model_input"]

ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")


def block_counts(structure: ArrayT) -> ArrayT:
    """Count the solid voxels in each non-overlapping 2x2x2 block (docs/method.md §4).

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
    if isinstance(structure, np.ndarray):
        return blocks.sum(axis=(-5, -3, -1), dtype=np.uint8)
    import torch

    return blocks.sum(dim=(-5, -3, -1), dtype=torch.uint8)


def to_model_input(counts: torch.Tensor) -> torch.Tensor:
    """Rescale block counts to the CNN input range and add the channel dimension.

    docs/method.md §4: "rescaled to [−1/2, 1/2]", i.e. counts / 8 − 1/2.

    Parameters
    ----------
    counts : torch.Tensor uint8, shape (B, n, n, n) (or (n, n, n)), values 0..8

    Returns
    -------
    torch.Tensor float32, shape (B, 1, n, n, n) (or (1, n, n, n)), values in [−0.5, 0.5]
    """
    import torch

    return (counts.to(torch.float32) / 8.0 - 0.5).unsqueeze(-4)
