"""Tests of spinodoid.formats.dataset: assembling the zarr store, its checks and its statistics."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from spinodoid import __version__
from spinodoid.formats.dataset import SPLITS, dataset_summary, read_labels, read_seeds
from spinodoid.plotting import DATASET_FIGURE_NAMES, dataset_figures
from spinodoid.surrogates.cnn_input import block_counts
from spinodoid.surrogates.training_data import (
    SpinodoidDataset,
)
from tests.datasets import SIZE, assemble_store, write_synthetic_eta


def test_assemble_writes_a_self_describing_store(shards, tmp_path: Path) -> None:
    store = assemble_store(shards, tmp_path / "dataset.zarr")
    group = zarr.open_group(store, mode="r")
    _, _, contents, etas = shards
    inputs = group["inputs"]
    assert inputs.shape == (10, 4, 4, 4) and inputs.dtype == np.uint8
    assert inputs.chunks == (1, 4, 4, 4)
    np.testing.assert_array_equal(inputs[5], block_counts(contents[1].structures[1]))
    np.testing.assert_allclose(group["eta"][5], etas[1][1].astype(np.float32))
    np.testing.assert_array_equal(group["theta"][9], contents[2].theta[1])
    np.testing.assert_array_equal(group["seed"][:], [0, 1, 2, 3, 100, 101, 102, 103, 200, 201])
    np.testing.assert_array_equal(group["source_shard"][:], [0] * 4 + [1] * 4 + [2] * 2)
    attrs = dict(group.attrs)
    assert attrs["N"] == SIZE and attrs["config"] == {"seed": 3}
    assert (attrs["solver"], attrs["interface"]) == ("lbm", "subvoxel")
    assert attrs["package_version"] == __version__ and attrs["created"]
    assert not list(tmp_path.glob("dataset.zarr.tmp*"))
    seeds, read_attrs = read_seeds(store)
    np.testing.assert_array_equal(seeds, group["seed"][:])
    assert read_attrs == attrs


def test_splits_are_disjoint_complete_and_reproducible(shards, tmp_path: Path) -> None:
    a = zarr.open_group(assemble_store(shards, tmp_path / "a.zarr"), mode="r")["split"][:]
    b = zarr.open_group(assemble_store(shards, tmp_path / "b.zarr"), mode="r")["split"][:]
    c_store = assemble_store(shards, tmp_path / "c.zarr", seed=4)
    c = zarr.open_group(c_store, mode="r")["split"][:]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.bincount(a, minlength=3).tolist() == [5, 3, 2]
    store = tmp_path / "a.zarr"
    rows = [set(SpinodoidDataset(store, split).indices.tolist()) for split in SPLITS]
    assert set.union(*rows) == set(range(10))
    assert sum(len(r) for r in rows) == 10


def test_assemble_refuses_too_few_structures(shards, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hold 11 structures but .* 12 are needed"):
        assemble_store(shards, tmp_path / "d.zarr", counts=(8, 2, 2))
    assert not (tmp_path / "d.zarr").exists()


@pytest.mark.parametrize(
    ("value", "converged", "reason"),
    [
        (np.nan, True, "not a number"),
        (0.0, True, "outside"),
        (1.0, True, "outside"),
        (1.3, True, "outside"),
        (-0.2, True, "outside"),
        (0.5, False, "not converged"),
    ],
)
def test_assemble_refuses_bad_eta(shards, tmp_path: Path, value, converged, reason) -> None:
    shard_paths, eta_paths, _, etas = shards
    eta = etas[1].copy()
    eta[2, 1] = value
    flags = np.ones(eta.shape, dtype=bool)
    flags[2, 1] = converged
    write_synthetic_eta(eta_paths[1], eta, flags)
    out = tmp_path / "bad.zarr"
    with pytest.raises(ValueError, match=reason) as info:
        assemble_store(shards, out)
    assert f"shard {shard_paths[1]}, structure 2, direction y" in str(info.value)
    assert not out.exists() and not list(tmp_path.glob("bad.zarr.tmp*"))


def test_assemble_refuses_missing_eta(shards, tmp_path: Path) -> None:
    shard_paths, eta_paths, _, etas = shards
    write_synthetic_eta(eta_paths[2], etas[2][:1])
    with pytest.raises(ValueError, match=r"structure 1: η missing") as info:
        assemble_store(shards, tmp_path / "e.zarr")
    assert str(shard_paths[2]) in str(info.value)


def test_assemble_refuses_mixed_solvers_and_absent_eta_files(shards, tmp_path: Path) -> None:
    shard_paths, eta_paths, _, etas = shards
    with h5py.File(eta_paths[1], "a") as f:
        f.attrs["solver"] = "fv"
    with pytest.raises(ValueError, match="mix solvers"):
        assemble_store(shards, tmp_path / "h.zarr")
    eta_paths[0].unlink()
    with pytest.raises(ValueError, match=f"shard {shard_paths[0]}, structure 0: η file missing"):
        assemble_store(shards, tmp_path / "h.zarr")
    assert not (tmp_path / "h.zarr").exists()


def test_bad_eta_beyond_the_used_structures_is_ignored(shards, tmp_path: Path) -> None:
    _, eta_paths, _, etas = shards
    eta = etas[2].copy()
    eta[2] = np.nan  # structure 10 is not needed for 5 + 3 + 2
    write_synthetic_eta(eta_paths[2], eta)
    store = assemble_store(shards, tmp_path / "f.zarr")
    assert zarr.open_group(store, mode="r")["eta"].shape == (10, 3)


def test_assemble_replaces_an_existing_store(shards, tmp_path: Path) -> None:
    out = tmp_path / "g.zarr"
    assemble_store(shards, out, counts=(2, 1, 1))
    assemble_store(shards, out)
    assert zarr.open_group(out, mode="r")["inputs"].shape[0] == 10


def test_dataset_summary_statistics_and_figures(shards, tmp_path: Path) -> None:
    store = assemble_store(shards, tmp_path / "dataset.zarr")
    table = dataset_summary(store)
    dataset_figures(*read_labels(store)[:2], tmp_path / "figures")
    assert table["split"].tolist() == ["train", "val", "test", "all"]
    assert table["structures"].tolist() == [5, 3, 2, 10]
    eta = zarr.open_group(store, mode="r")["eta"][:].astype(np.float64)
    row = table.set_index("split").loc["all"]
    assert row["eta_y_mean"] == pytest.approx(eta[:, 1].mean())
    assert row["r_xy"] == pytest.approx(np.corrcoef(eta[:, 0], eta[:, 1])[0, 1])
    for name in DATASET_FIGURE_NAMES:
        assert (tmp_path / "figures" / name).read_bytes()[:4] == b"\x89PNG"
