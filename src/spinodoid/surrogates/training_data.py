"""The CNN's training data: a torch Dataset over one split of the store, and the augmentation.

Axis convention of an item (docs/method.md §4, "transport direction first"): the block counts of
transport axis ``a`` are ``np.moveaxis(counts, a, 0)``, so the two lateral axes keep their
order: x -> (x, y, z), y -> (y, x, z), z -> (z, x, y). The augmentation is the paper's random
lateral flips, swap and circular shifts (Methods), drawn per sample from a torch generator.

A joint model (:class:`spinodoid.surrogates.cnn.SpinodoidCNN` with ``joint_axes``) sees each
structure once, axes (x, y, z), with the label (η_x, η_y, η_z). Its augmentation
(:func:`augment_joint_batch`) is the cube's 48 symmetries: a permutation of the three axes, the
labels permuted with them, and a flip of each axis. Both leave every η exact (the solver's
problem is symmetric under reversing a direction). Circular shifts are left out: a shift along
an axis moves that axis's inlet and outlet faces, so it changes that η slightly.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zarr
from tqdm import tqdm

from spinodoid.formats.dataset import SPLITS

__all__ = [
    "Augmentation",
    "SpinodoidDataset",
    "AXIS_PERMUTATIONS",
    "apply_augmentation",
    "augment_batch",
    "augment_joint_batch",
    "draw_augmentation",
]


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
    because the structures are periodic laterally (docs/method.md §3) and the lateral faces are
    symmetric.
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
    """Random lateral flips, swap and circular shifts per sample (docs/method.md §4).

    Parameters
    ----------
    x : torch.Tensor (B, n, n, n) or (B, C, n, n, n), transport axis at dim −3.
    generator : torch.Generator supplying all randomness (on any device).

    Returns
    -------
    torch.Tensor of the same shape, dtype and device as ``x``.
    """
    return apply_augmentation(x, draw_augmentation(x.shape[0], x.shape[-1], generator))


#: The six orders of the axes (x, y, z) = (0, 1, 2).
AXIS_PERMUTATIONS: tuple[tuple[int, ...], ...] = tuple(itertools.permutations(range(3)))


def augment_joint_batch(
    x: torch.Tensor, eta: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random symmetry of the cube per sample, the labels permuted with the axes.

    Sample ``b`` with permutation ``p`` becomes ``x[b].permute(p)`` (new axis ``k`` is old axis
    ``p[k]``), then flipped along the axes drawn; its label becomes ``eta[b, p]``.

    Parameters
    ----------
    x : torch.Tensor (B, n, n, n), axes (x, y, z), any dtype.
    eta : torch.Tensor (B, 3), (η_x, η_y, η_z).
    generator : torch.Generator supplying all randomness (on any device).

    Returns
    -------
    (torch.Tensor, torch.Tensor) of the shapes, dtypes and devices of ``x`` and ``eta``.
    """
    device = generator.device
    batch = x.shape[0]
    order = torch.randint(0, len(AXIS_PERMUTATIONS), (batch,), generator=generator, device=device)
    flips = torch.randint(0, 2, (batch, 3), generator=generator, device=device).bool()
    out_x, out_eta = torch.empty_like(x), torch.empty_like(eta)
    for b, (k, flip) in enumerate(zip(order.tolist(), flips.tolist(), strict=True)):
        perm = AXIS_PERMUTATIONS[k]
        dims = [axis for axis in range(3) if flip[axis]]
        moved = x[b].permute(perm)
        out_x[b] = moved.flip(dims) if dims else moved
        out_eta[b] = eta[b, list(perm)]
    return out_x, out_eta


class SpinodoidDataset(torch.utils.data.Dataset):
    """One split of the zarr store, each structure three times (one per transport axis), or
    once with its three labels (``joint_axes``).

    Per axis: item ``i`` is structure ``indices[i // 3]`` with transport axis ``i % 3`` (0 = x):
    returns ``(x, y)`` with ``x`` torch.uint8 (M, M, M) block counts,
    ``np.moveaxis(counts, axis, 0)`` (lateral axes keep their order), and ``y`` torch.float32
    scalar η along that axis. Joint: item ``i`` is structure ``indices[i]``, ``x`` its counts
    with axes (x, y, z) and ``y`` torch.float32 (3,) its (η_x, η_y, η_z).
    Inputs are read lazily, one zarr chunk per item; the object pickles without open handles,
    so DataLoader workers (fork or spawn) each open the store themselves.

    Parameters
    ----------
    store_path : path of the store written by :func:`assemble_dataset`
    split : "train", "val" or "test"
    in_memory : read the split's inputs once into RAM (uint8, (M^3) bytes per structure: 7.2 GB
        for the paper's 8192 training structures) instead of one chunk per item; forked
        DataLoader workers share that copy. Faster per item (benchmarks/loader.py).
    joint_axes : one item per structure with the three labels (for a joint model).
    """

    def __init__(
        self,
        store_path: str | os.PathLike[str],
        split: str,
        in_memory: bool = False,
        joint_axes: bool = False,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.store_path = Path(store_path)
        self.split = split
        self.joint_axes = bool(joint_axes)
        self._per_structure = 1 if self.joint_axes else 3
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
        return self._per_structure * len(self.indices)

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
        """(row in the store, transport axis 0..2) of item ``i``; the axis is −1 for a joint
        item (all three)."""
        if not 0 <= i < len(self):
            raise IndexError(f"item {i} out of range for {len(self)} items")
        if self.joint_axes:
            return int(self.indices[i]), -1
        return int(self.indices[i // 3]), i % 3

    def targets(self) -> torch.Tensor:
        """η of every item in item order, torch.float32 (len(self),), or (len(self), 3) joint."""
        eta = self.eta if self.joint_axes else self.eta.reshape(-1)
        return torch.from_numpy(eta.copy())

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        row, axis = self.source(i)
        structure = i // self._per_structure
        full = np.asarray(self.inputs[row] if self._memory is None else self._memory[structure])
        if self.joint_axes:
            return torch.from_numpy(np.array(full, order="C")), torch.from_numpy(
                self.eta[structure].copy()
            )
        counts = np.moveaxis(full, axis, 0)
        y = torch.tensor(self.eta[structure, axis], dtype=torch.float32)
        return torch.from_numpy(np.array(counts, order="C")), y
