"""Shard files: the accepted structures of one shard of the rejection sampling (rule ``sample``).

``results/shards/shard_{i:05d}.h5``, written by :func:`write_shard_h5`, read by
:func:`read_shard_h5`:

- dataset ``structures``: ``(n, N, N, N)`` uint8, gzip-compressed, one structure per chunk
- dataset ``theta``: ``(n, 4)`` float64; dataset ``seed``: ``(n,)`` int64
- datasets ``rejected_theta`` ``(m, 4)`` float64 and ``rejected_reason`` ``(m,)`` bytes
  (``pore``, ``solid`` or ``both``: the phase that failed to percolate)
- attributes: ``size`` (N), ``shard``, ``base_seed``, ``attempts``, ``accepted``,
  ``package_version``
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import h5py
import numpy as np

from spinodoid import __version__
from spinodoid.formats.atomic import atomic_write

__all__ = ["Shard", "read_candidates", "read_shard_h5", "write_shard_h5"]


@dataclass
class Shard:
    """Accepted structures of one shard plus the rejected candidates' θ.

    ``structures`` uint8 ``(n, N, N, N)``; ``theta`` float64 ``(n, 4)``; ``seed`` int64 ``(n,)``;
    ``rejected_theta`` float64 ``(m, 4)``; ``rejected_reason`` ``(m,)`` strings ``pore``,
    ``solid`` or ``both`` (the phase that failed to percolate).
    """

    index: int
    size: int
    base_seed: int
    structures: np.ndarray
    theta: np.ndarray
    seed: np.ndarray
    rejected_theta: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))
    rejected_reason: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="U5"))

    @property
    def attempts(self) -> int:
        return len(self.seed) + len(self.rejected_reason)


def write_shard_h5(shard: Shard, path: str | os.PathLike) -> None:
    """Write a shard (format in the module docstring) to a temporary file, then rename it."""
    n, size = len(shard.seed), shard.size
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset(
            "structures",
            data=shard.structures,
            chunks=(1, size, size, size),
            compression="gzip",
            compression_opts=1,
            shuffle=True,
        )
        handle.create_dataset("theta", data=shard.theta)
        handle.create_dataset("seed", data=shard.seed)
        handle.create_dataset("rejected_theta", data=shard.rejected_theta)
        handle.create_dataset("rejected_reason", data=shard.rejected_reason.astype("S5"))
        handle.attrs.update(
            size=size,
            shard=shard.index,
            base_seed=shard.base_seed,
            attempts=shard.attempts,
            accepted=n,
            package_version=__version__,
        )


def read_shard_h5(path: str | os.PathLike, load_structures: bool = True) -> Shard:
    """Read a shard written by :func:`write_shard_h5` (structures skipped if not wanted)."""
    with h5py.File(path, "r") as handle:
        size = int(handle.attrs["size"])
        structures = (
            handle["structures"][...]
            if load_structures
            else np.empty((0, size, size, size), dtype=np.uint8)
        )
        return Shard(
            index=int(handle.attrs["shard"]),
            size=size,
            base_seed=int(handle.attrs["base_seed"]),
            structures=structures,
            theta=handle["theta"][...],
            seed=handle["seed"][...],
            rejected_theta=handle["rejected_theta"][...],
            rejected_reason=handle["rejected_reason"][...].astype("U5"),
        )


def read_candidates(paths: Sequence[str | os.PathLike]) -> tuple[np.ndarray, np.ndarray]:
    """Every candidate the sampler tried in these shards: θ float64 (n, 4) and whether it was
    accepted, bool (n,) (accepted ones first within each shard)."""
    theta, accepted = [np.empty((0, 4))], [np.empty(0, dtype=bool)]
    for path in paths:
        shard = read_shard_h5(path, load_structures=False)
        theta += [shard.theta, shard.rejected_theta]
        accepted += [np.ones(len(shard.theta), bool), np.zeros(len(shard.rejected_theta), bool)]
    return np.concatenate(theta).astype(np.float64), np.concatenate(accepted)
