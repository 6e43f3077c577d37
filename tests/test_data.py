"""Tests of the CNN data: block counts (spinodoid.cnn_input), the zarr store (spinodoid.dataset),
the torch Dataset and the augmentation (spinodoid.training_data), and the dataset figures."""

from __future__ import annotations

import itertools
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
import zarr

from spinodoid import __version__
from spinodoid.cnn_input import block_counts, to_model_input
from spinodoid.dataset import SPLITS, assemble_dataset, dataset_summary, read_labels
from spinodoid.plotting import DATASET_FIGURE_NAMES, dataset_figures
from spinodoid.shards import Shard, write_shard_h5
from spinodoid.training_data import (
    Augmentation,
    SpinodoidDataset,
    apply_augmentation,
    augment_batch,
    draw_augmentation,
)

SIZE = 8  # structure size N of the synthetic shards; block counts are 4^3


def _direct_block_counts(structure: np.ndarray) -> np.ndarray:
    """Reference: explicit loop over blocks and the 8 voxels in each."""
    m = structure.shape[-1] // 2
    out = np.zeros((m, m, m), dtype=np.int64)
    for i, j, k in itertools.product(range(m), repeat=3):
        for di, dj, dk in itertools.product(range(2), repeat=3):
            out[i, j, k] += structure[2 * i + di, 2 * j + dj, 2 * k + dk]
    return out


def _write_shard(path: Path, index: int, n: int, rng: np.random.Generator) -> Shard:
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


def _write_eta(path: Path, eta: np.ndarray, converged: np.ndarray | None = None) -> None:
    converged = np.ones(eta.shape, dtype=bool) if converged is None else converged
    with h5py.File(path, "w") as f:
        f["eta"] = eta
        f["converged"] = converged
        f["iterations"] = np.full(eta.shape, 100, dtype=np.int64)
        f.attrs["solver"] = "lbm"
        f.attrs["interface"] = "subvoxel"


@pytest.fixture
def shards(tmp_path: Path) -> tuple[list[Path], list[Path], list[Shard], list[np.ndarray]]:
    """Three shards of 4, 4 and 3 structures with distinct synthetic η (structure k: 0.1+k/100)."""
    rng = np.random.default_rng(0)
    shard_paths, eta_paths, contents, etas = [], [], [], []
    for index, n in enumerate((4, 4, 3)):
        shard_path = tmp_path / f"shard_{index:05d}.h5"
        eta_path = tmp_path / f"shard_{index:05d}.eta.h5"
        contents.append(_write_shard(shard_path, index, n, rng))
        eta = 0.1 + (4 * index + np.arange(n))[:, None] / 100 + np.array([0.0, 0.2, 0.4])
        _write_eta(eta_path, eta)
        shard_paths.append(shard_path)
        eta_paths.append(eta_path)
        etas.append(eta)
    return shard_paths, eta_paths, contents, etas


def _assemble(shards, out: Path, counts=(5, 3, 2), seed: int = 3) -> Path:
    shard_paths, eta_paths, _, _ = shards
    return assemble_dataset(
        shard_paths, eta_paths, out, *counts, split_seed=seed, attrs={"config": {"seed": seed}}
    )


def _two_phase_eta(structure: np.ndarray) -> float:
    """Effective conductivity along axis 0 of a two-phase voxel image (independent FV check).

    Pore conductivity 1, solid 0.01 (never singular), harmonic face conductances, fixed values
    1 and 0 on half-voxel reservoirs at both ends of axis 0, periodic along axes 1 and 2.
    """
    kappa = np.where(structure == 0, 1.0, 0.01)
    n = structure.shape[0]
    ids = np.arange(kappa.size).reshape(kappa.shape)
    rows, cols, vals = [], [], []
    diag = np.zeros(kappa.size)
    for axis in range(3):
        periodic = axis != 0
        a = kappa if periodic else kappa[:-1]
        b = np.roll(kappa, -1, axis) if periodic else kappa[1:]
        ia = ids if periodic else ids[:-1]
        ib = np.roll(ids, -1, axis) if periodic else ids[1:]
        g = (2 * a * b / (a + b)).ravel()
        ia, ib = ia.ravel(), ib.ravel()
        rows += [ia, ib]
        cols += [ib, ia]
        vals += [-g, -g]
        np.add.at(diag, ia, g)
        np.add.at(diag, ib, g)
    g_in, g_out = 2 * kappa[0].ravel(), 2 * kappa[-1].ravel()
    np.add.at(diag, ids[0].ravel(), g_in)
    np.add.at(diag, ids[-1].ravel(), g_out)
    rhs = np.zeros(kappa.size)
    rhs[ids[0].ravel()] = g_in
    matrix = sp.csr_matrix(
        (
            np.concatenate(vals + [diag]),
            (
                np.concatenate(rows + [np.arange(kappa.size)]),
                np.concatenate(cols + [np.arange(kappa.size)]),
            ),
        )
    )
    c = spla.spsolve(matrix, rhs).reshape(kappa.shape)
    flux = np.sum(g_in * (1.0 - c[0].ravel()))
    return float(flux * n / kappa[0].size)


# --- block counts and model input ------------------------------------------------------------


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


# --- augmentation -------------------------------------------------------------------------------


def _reference_augment(x: torch.Tensor, aug: Augmentation) -> torch.Tensor:
    """Per-sample swap, flips, then roll with torch's own ops (the definition)."""
    out = []
    for b in range(x.shape[0]):
        s = x[b].transpose(-1, -2) if aug.swap[b] else x[b]
        for d in range(2):
            if aug.flip[b, d]:
                s = s.flip(d - 2)
        s = torch.roll(s, shifts=(int(aug.shift[b, 0]), int(aug.shift[b, 1])), dims=(-2, -1))
        out.append(s)
    return torch.stack(out)


def test_apply_augmentation_matches_reference_for_every_flip_and_swap() -> None:
    combos = list(itertools.product((False, True), repeat=3))
    n = 5
    aug = Augmentation(
        swap=torch.tensor([c[0] for c in combos]),
        flip=torch.tensor([[c[1], c[2]] for c in combos]),
        shift=torch.tensor([[b % n, (3 * b + 1) % n] for b in range(len(combos))]),
    )
    x = torch.arange(len(combos) * 2 * 3 * n * n).reshape(len(combos), 2, 3, n, n)
    torch.testing.assert_close(apply_augmentation(x, aug), _reference_augment(x, aug))


def test_known_voxel_lands_where_expected() -> None:
    n = 6
    x = torch.zeros(4, n, n, n, dtype=torch.uint8)
    x[:, 2, 1, 4] = 7  # transport index 2, lateral (1, 4)
    aug = Augmentation(
        swap=torch.tensor([False, True, False, True]),
        flip=torch.tensor([[False, False], [False, False], [True, False], [True, True]]),
        shift=torch.tensor([[0, 0], [0, 0], [0, 3], [1, 2]]),
    )
    out = apply_augmentation(x, aug)
    # identity; swap -> (4, 1); flip dim -2 -> (4, 4) then shift 3 along -1 -> (4, 1);
    # swap -> (4, 1), flip both -> (1, 4), shift (1, 2) -> (2, 0)
    expected = [(1, 4), (4, 1), (4, 1), (2, 0)]
    for b, (j, k) in enumerate(expected):
        assert out[b, 2, j, k] == 7 and out[b].sum() == 7


def test_augment_batch_is_reproducible_and_varied() -> None:
    x = torch.arange(64 * 4 * 4 * 4, dtype=torch.int64).reshape(64, 4, 4, 4) % 251
    a = augment_batch(x, torch.Generator().manual_seed(5))
    b = augment_batch(x, torch.Generator().manual_seed(5))
    c = augment_batch(x, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    aug = draw_augmentation(512, 96, torch.Generator().manual_seed(0))
    combos = {(bool(s), bool(f[0]), bool(f[1])) for s, f in zip(aug.swap, aug.flip, strict=True)}
    assert len(combos) == 8  # all 2·2·2 flip/swap variants occur
    assert int(aug.shift.min()) == 0 and int(aug.shift.max()) == 95


def test_augmentation_keeps_plane_porosity_along_transport_axis() -> None:
    rng = np.random.default_rng(4)
    x = torch.from_numpy((rng.random((16, 8, 8, 8)) < 0.5).astype(np.uint8))
    out = augment_batch(x, torch.Generator().manual_seed(1))
    assert not torch.equal(out, x)
    torch.testing.assert_close(out.sum(dim=(-2, -1)), x.sum(dim=(-2, -1)))


def test_every_augmentation_keeps_the_physics_label() -> None:
    """η along the transport axis is unchanged by each lateral swap/flip/shift, not by others."""
    rng = np.random.default_rng(5)
    structure = (rng.random((8, 8, 8)) < 0.45).astype(np.uint8)
    eta = _two_phase_eta(structure)
    combos = list(itertools.product((False, True), repeat=3))
    aug = Augmentation(
        swap=torch.tensor([c[0] for c in combos]),
        flip=torch.tensor([[c[1], c[2]] for c in combos]),
        shift=torch.tensor([[b % 8, (5 * b + 3) % 8] for b in range(len(combos))]),
    )
    batch = torch.from_numpy(structure).expand(len(combos), 8, 8, 8)
    for variant in apply_augmentation(batch, aug).numpy():
        assert _two_phase_eta(variant) == pytest.approx(eta, rel=1e-9)
    # the check discriminates: a shift or flip along the transport axis changes η
    assert _two_phase_eta(np.roll(structure, 3, axis=0)) != pytest.approx(eta, rel=1e-3)
    assert _two_phase_eta(structure.transpose(1, 0, 2)) != pytest.approx(eta, rel=1e-3)


def test_augmentation_commutes_with_block_counts() -> None:
    """Shifting voxels by 2s equals shifting block counts by s; flips and swaps commute."""
    rng = np.random.default_rng(6)
    voxels = torch.from_numpy((rng.random((3, 8, 8, 8)) < 0.5).astype(np.uint8))
    coarse = Augmentation(
        swap=torch.tensor([True, False, True]),
        flip=torch.tensor([[True, False], [False, True], [True, True]]),
        shift=torch.tensor([[1, 3], [2, 0], [0, 1]]),
    )
    fine = Augmentation(swap=coarse.swap, flip=coarse.flip, shift=2 * coarse.shift)
    torch.testing.assert_close(
        block_counts(apply_augmentation(voxels, fine)),
        apply_augmentation(block_counts(voxels), coarse),
    )


# --- assembly ------------------------------------------------------------------------------------


def test_assemble_writes_a_self_describing_store(shards, tmp_path: Path) -> None:
    store = _assemble(shards, tmp_path / "dataset.zarr")
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


def test_splits_are_disjoint_complete_and_reproducible(shards, tmp_path: Path) -> None:
    a = zarr.open_group(_assemble(shards, tmp_path / "a.zarr"), mode="r")["split"][:]
    b = zarr.open_group(_assemble(shards, tmp_path / "b.zarr"), mode="r")["split"][:]
    c = zarr.open_group(_assemble(shards, tmp_path / "c.zarr", seed=4), mode="r")["split"][:]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.bincount(a, minlength=3).tolist() == [5, 3, 2]
    store = tmp_path / "a.zarr"
    rows = [set(SpinodoidDataset(store, split).indices.tolist()) for split in SPLITS]
    assert set.union(*rows) == set(range(10))
    assert sum(len(r) for r in rows) == 10


def test_assemble_refuses_too_few_structures(shards, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hold 11 structures but .* 12 are needed"):
        _assemble(shards, tmp_path / "d.zarr", counts=(8, 2, 2))
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
    _write_eta(eta_paths[1], eta, flags)
    out = tmp_path / "bad.zarr"
    with pytest.raises(ValueError, match=reason) as info:
        _assemble(shards, out)
    assert f"shard {shard_paths[1]}, structure 2, direction y" in str(info.value)
    assert not out.exists() and not list(tmp_path.glob("bad.zarr.tmp*"))


def test_assemble_refuses_missing_eta(shards, tmp_path: Path) -> None:
    shard_paths, eta_paths, _, etas = shards
    _write_eta(eta_paths[2], etas[2][:1])
    with pytest.raises(ValueError, match=r"structure 1: η missing") as info:
        _assemble(shards, tmp_path / "e.zarr")
    assert str(shard_paths[2]) in str(info.value)


def test_assemble_refuses_mixed_solvers_and_absent_eta_files(shards, tmp_path: Path) -> None:
    shard_paths, eta_paths, _, etas = shards
    with h5py.File(eta_paths[1], "a") as f:
        f.attrs["solver"] = "fv"
    with pytest.raises(ValueError, match="mix solvers"):
        _assemble(shards, tmp_path / "h.zarr")
    eta_paths[0].unlink()
    with pytest.raises(ValueError, match=f"shard {shard_paths[0]}, structure 0: η file missing"):
        _assemble(shards, tmp_path / "h.zarr")
    assert not (tmp_path / "h.zarr").exists()


def test_bad_eta_beyond_the_used_structures_is_ignored(shards, tmp_path: Path) -> None:
    _, eta_paths, _, etas = shards
    eta = etas[2].copy()
    eta[2] = np.nan  # structure 10 is not needed for 5 + 3 + 2
    _write_eta(eta_paths[2], eta)
    assert zarr.open_group(_assemble(shards, tmp_path / "f.zarr"), mode="r")["eta"].shape == (10, 3)


def test_assemble_replaces_an_existing_store(shards, tmp_path: Path) -> None:
    out = tmp_path / "g.zarr"
    _assemble(shards, out, counts=(2, 1, 1))
    _assemble(shards, out)
    assert zarr.open_group(out, mode="r")["inputs"].shape[0] == 10


# --- dataset --------------------------------------------------------------------------------------


def test_dataset_permutes_axes_and_labels(shards, tmp_path: Path) -> None:
    store = _assemble(shards, tmp_path / "dataset.zarr")
    group = zarr.open_group(store, mode="r")
    data = SpinodoidDataset(store, "train")
    assert len(data) == 3 * 5
    for i in range(len(data)):
        row, axis = data.source(i)
        x, y = data[i]
        assert x.dtype == torch.uint8 and x.shape == (4, 4, 4)
        np.testing.assert_array_equal(x.numpy(), np.moveaxis(group["inputs"][row], axis, 0))
        assert y.dtype == torch.float32 and float(y) == pytest.approx(group["eta"][row, axis])
    torch.testing.assert_close(data.targets(), torch.stack([data[i][1] for i in range(len(data))]))
    with pytest.raises(IndexError):
        data[len(data)]


def test_dataset_axis_convention_keeps_lateral_order(shards, tmp_path: Path) -> None:
    """Item axis y holds counts as (y, x, z) and axis z as (z, x, y)."""
    store = _assemble(shards, tmp_path / "dataset.zarr")
    counts = zarr.open_group(store, mode="r")["inputs"]
    data = SpinodoidDataset(store, "val")
    row = data.source(0)[0]
    full = counts[row]
    assert torch.equal(data[1][0], torch.from_numpy(full.transpose(1, 0, 2).copy()))
    assert torch.equal(data[2][0], torch.from_numpy(full.transpose(2, 0, 1).copy()))


def test_dataset_pickles_and_feeds_worker_processes(shards, tmp_path: Path) -> None:
    store = _assemble(shards, tmp_path / "dataset.zarr")
    data = SpinodoidDataset(store, "test")
    _ = data[0]  # opens the inputs in this process
    clone = pickle.loads(pickle.dumps(data))
    assert torch.equal(clone[3][0], data[3][0])
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=1)
    xs, ys = zip(*loader, strict=True)
    assert torch.cat(xs).shape == (6, 4, 4, 4)
    torch.testing.assert_close(torch.cat(ys), data.targets())


def test_in_memory_dataset_matches_lazy_reads(shards, tmp_path: Path) -> None:
    store = _assemble(shards, tmp_path / "dataset.zarr")
    lazy, memory = SpinodoidDataset(store, "train"), SpinodoidDataset(store, "train", True)
    for i in range(len(lazy)):
        assert torch.equal(lazy[i][0], memory[i][0]) and torch.equal(lazy[i][1], memory[i][1])
    memory[0][0].fill_(9)  # items are copies: the cached inputs stay intact
    assert torch.equal(memory[0][0], lazy[0][0])


def test_dataset_rejects_unknown_split(shards, tmp_path: Path) -> None:
    store = _assemble(shards, tmp_path / "dataset.zarr")
    with pytest.raises(ValueError, match="split"):
        SpinodoidDataset(store, "validation")


# --- summary ----------------------------------------------------------------------------------


def test_dataset_summary_statistics_and_figures(shards, tmp_path: Path) -> None:
    store = _assemble(shards, tmp_path / "dataset.zarr")
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


# --- CUDA ---------------------------------------------------------------------------------------


@pytest.mark.cuda
def test_cuda_augmentation_and_counts_match_cpu() -> None:
    device = torch.device("cuda")
    rng = np.random.default_rng(7)
    voxels = torch.from_numpy((rng.random((4, 16, 16, 16)) < 0.5).astype(np.uint8))
    counts = block_counts(voxels.to(device))
    assert counts.device.type == "cuda"
    torch.testing.assert_close(counts.cpu(), block_counts(voxels))
    gen = torch.Generator(device=device).manual_seed(3)
    aug = draw_augmentation(4, 8, gen)
    assert aug.shift.device.type == "cuda"
    out = apply_augmentation(counts, aug)
    cpu_aug = Augmentation(aug.swap.cpu(), aug.flip.cpu(), aug.shift.cpu())
    torch.testing.assert_close(out.cpu(), _reference_augment(counts.cpu(), cpu_aug))
    model_input = to_model_input(augment_batch(counts, gen))
    assert model_input.device.type == "cuda" and model_input.shape == (4, 1, 8, 8, 8)
