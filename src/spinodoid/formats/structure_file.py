"""Reading and writing single structures (the files of ``spinodoid generate``, docs/method.md §7).

- ``.npy`` uint8: voxels, shape ``(N, N, N)``, axes (x, y, z), 1 = solid, 0 = pore.
- ``.npy`` float: a level-set field; pore where the value is < 0 (its zero crossing places a
  sub-voxel interface).
- ``.h5``: dataset ``structure`` (uint8 voxels, gzip) with attributes ``theta``, ``seed`` and
  ``size``, from which the GRF level set Ψ − T is regenerated on demand.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import spinodoid
from spinodoid.formats.atomic import atomic_write
from spinodoid.structures.grf import level_set as grf_level_set

__all__ = [
    "LoadedStructure",
    "StructureFileError",
    "save_structure",
    "load_structure",
]


class StructureFileError(ValueError):
    """A structure file that cannot be read or does not hold a cubic structure."""


@dataclass
class LoadedStructure:
    """A structure read from disk.

    Attributes: ``voxels`` uint8 ``(N, N, N)`` (1 = solid); ``theta`` (a_x, a_y, a_z, eps) and
    ``seed`` when known; ``level_set`` float32 ``(N, N, N)`` (pore < 0) or None when the file
    holds neither a field nor the parameters to regenerate one.
    """

    voxels: np.ndarray
    theta: tuple[float, float, float, float] | None = None
    seed: int | None = None
    field: np.ndarray | None = None

    @functools.cached_property
    def level_set(self) -> np.ndarray | None:
        if self.field is not None:
            return self.field
        if self.theta is None or self.seed is None:
            return None
        regenerated = grf_level_set(self.theta, self.seed, self.voxels.shape[0])
        mismatch = int(np.count_nonzero((regenerated >= 0) != self.voxels.astype(bool)))
        if mismatch:
            raise StructureFileError(
                f"the level set regenerated from theta={self.theta}, seed={self.seed} differs "
                f"from the stored voxels in {mismatch} voxels"
            )
        return regenerated


def save_structure(
    path: str | os.PathLike,
    voxels: np.ndarray,
    theta: tuple[float, ...] | None = None,
    seed: int | None = None,
) -> None:
    """Write uint8 ``voxels`` ``(N, N, N)`` as ``.npy`` or ``.h5`` (with θ and seed), atomically."""
    path = Path(path)
    if path.suffix not in (".npy", ".h5", ".hdf5"):
        raise StructureFileError(f"unknown structure file type {path.suffix!r}: use .npy or .h5")
    with atomic_write(path) as tmp:
        if path.suffix == ".npy":
            with open(tmp, "wb") as handle:
                np.save(handle, np.ascontiguousarray(voxels, dtype=np.uint8))
        else:
            _write_h5(tmp, voxels, theta, seed)


def _write_h5(
    path: Path, voxels: np.ndarray, theta: tuple[float, ...] | None, seed: int | None
) -> None:
    """The .h5 form: voxels (gzip) with size, θ and seed as attributes."""
    import h5py  # only .h5 files need it

    with h5py.File(path, "w") as handle:
        handle.create_dataset("structure", data=voxels.astype(np.uint8), compression="gzip")
        handle.attrs["size"] = voxels.shape[0]
        handle.attrs["package_version"] = spinodoid.__version__
        if theta is not None:
            handle.attrs["theta"] = np.asarray(theta, dtype=np.float64)
        if seed is not None:
            handle.attrs["seed"] = int(seed)


def _check_cubic(array: np.ndarray, path: Path) -> None:
    if array.ndim != 3 or len(set(array.shape)) != 1:
        raise StructureFileError(
            f"{path}: expected a cubic (N, N, N) array, got shape {array.shape}"
        )


def load_structure(path: str | os.PathLike) -> LoadedStructure:
    """Read a structure file written by :func:`save_structure` or any .npy of the same meaning."""
    path = Path(path)
    if not path.exists():
        raise StructureFileError(f"{path}: no such file")
    if path.suffix == ".npy":
        array = np.load(path)
        _check_cubic(array, path)
        if np.issubdtype(array.dtype, np.floating):
            field = array.astype(np.float32)
            return LoadedStructure(voxels=(field >= 0).view(np.uint8), field=field)
        if array.dtype == np.bool_ or (array.size and array.max() <= 1 and array.min() >= 0):
            return LoadedStructure(voxels=array.astype(np.uint8))
        raise StructureFileError(f"{path}: integer voxels must be 0 (pore) or 1 (solid)")
    if path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as handle:
            if "structure" not in handle:
                raise StructureFileError(f"{path}: no 'structure' dataset")
            voxels = handle["structure"][...].astype(np.uint8)
            theta = handle.attrs.get("theta")
            seed = handle.attrs.get("seed")
        _check_cubic(voxels, path)
        return LoadedStructure(
            voxels=voxels,
            theta=None if theta is None else tuple(float(v) for v in theta),
            seed=None if seed is None else int(seed),
        )
    raise StructureFileError(f"{path}: unknown structure file type, use .npy or .h5")
