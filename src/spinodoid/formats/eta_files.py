"""η files: the solver's effective diffusivity of every structure of one shard (rule ``simulate``).

``results/shards/shard_{i:05d}.eta.h5``, next to its shard file, written by
:func:`write_eta_h5` and read by :func:`read_eta_h5` (and checked by
:func:`spinodoid.formats.dataset.assemble_dataset`):

- datasets ``eta`` ``(n, 3)`` float64 (η along x, y, z; NaN where the solve failed),
  ``converged`` ``(n, 3)`` bool, ``iterations`` ``(n, 3)`` int64, ``flux_nonuniformity``
  ``(n, 3)`` float64 and ``seconds`` ``(n, 3)`` float64 (solver wall time)
- attributes ``solver`` (``lbm`` or ``fv``), ``interface`` (``voxel`` or ``subvoxel``) and
  ``shard`` (its index)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np

from spinodoid.formats.atomic import atomic_write

__all__ = ["ETA_FIELDS", "ShardEta", "read_eta_h5", "write_eta_h5"]

#: The per-structure datasets of an η file and their HDF5 dtypes.
ETA_FIELDS: dict[str, str] = {
    "eta": "f8",
    "converged": "?",
    "iterations": "i8",
    "flux_nonuniformity": "f8",
    "seconds": "f8",
}


@dataclass
class ShardEta:
    """The contents of one η file.

    Attributes:
        eta: η along (x, y, z), float64 (n, 3); (0, 3) when the file has none.
        converged: solver convergence per structure and axis, bool (n, 3), or None if absent.
        iterations: solver iterations, int64 (n, 3), or None if absent.
        flux_nonuniformity: relative spread of the plane fluxes, float64 (n, 3), or None.
        seconds: solver wall time (s), float64 (n, 3), or None.
        solver: ``"lbm"`` or ``"fv"`` (empty if absent).
        interface: ``"voxel"`` or ``"subvoxel"`` (empty if absent).
        shard: index of the shard (-1 if absent).
    """

    eta: np.ndarray
    converged: np.ndarray | None = None
    iterations: np.ndarray | None = None
    flux_nonuniformity: np.ndarray | None = None
    seconds: np.ndarray | None = None
    solver: str = ""
    interface: str = ""
    shard: int = -1


def write_eta_h5(record: ShardEta, path: str | os.PathLike[str]) -> None:
    """Write ``record`` as an η file (module docstring), via a temporary name and rename."""
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as h5:
        for name, dtype in ETA_FIELDS.items():
            h5.create_dataset(name, data=np.asarray(getattr(record, name)).astype(dtype))
        h5.attrs.update(solver=record.solver, interface=record.interface, shard=record.shard)


def read_eta_h5(path: str | os.PathLike[str]) -> ShardEta:
    """Read an η file; datasets or attributes it lacks come back empty or None (see ShardEta)."""
    with h5py.File(path, "r") as f:
        arrays = {
            name: np.asarray(f[name][:], dtype=dtype) if name in f else None
            for name, dtype in ETA_FIELDS.items()
        }
        if arrays["eta"] is None:
            arrays["eta"] = np.empty((0, 3))
        return ShardEta(
            **arrays,
            solver=str(f.attrs.get("solver", "")),
            interface=str(f.attrs.get("interface", "")),
            shard=int(f.attrs.get("shard", -1)),
        )
