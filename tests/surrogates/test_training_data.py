"""Tests of spinodoid.surrogates.training_data: the lateral augmentation and the torch Dataset."""

from __future__ import annotations

import itertools
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
import zarr

from spinodoid.surrogates.cnn_input import block_counts, to_model_input
from spinodoid.surrogates.training_data import (
    Augmentation,
    SpinodoidDataset,
    apply_augmentation,
    augment_batch,
    draw_augmentation,
)
from tests.datasets import assemble_store


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


def test_dataset_permutes_axes_and_labels(shards, tmp_path: Path) -> None:
    store = assemble_store(shards, tmp_path / "dataset.zarr")
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
    store = assemble_store(shards, tmp_path / "dataset.zarr")
    counts = zarr.open_group(store, mode="r")["inputs"]
    data = SpinodoidDataset(store, "val")
    row = data.source(0)[0]
    full = counts[row]
    assert torch.equal(data[1][0], torch.from_numpy(full.transpose(1, 0, 2).copy()))
    assert torch.equal(data[2][0], torch.from_numpy(full.transpose(2, 0, 1).copy()))


def test_dataset_pickles_and_feeds_worker_processes(shards, tmp_path: Path) -> None:
    store = assemble_store(shards, tmp_path / "dataset.zarr")
    data = SpinodoidDataset(store, "test")
    _ = data[0]  # opens the inputs in this process
    clone = pickle.loads(pickle.dumps(data))
    assert torch.equal(clone[3][0], data[3][0])
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=1)
    xs, ys = zip(*loader, strict=True)
    assert torch.cat(xs).shape == (6, 4, 4, 4)
    torch.testing.assert_close(torch.cat(ys), data.targets())


def test_in_memory_dataset_matches_lazy_reads(shards, tmp_path: Path) -> None:
    store = assemble_store(shards, tmp_path / "dataset.zarr")
    lazy, memory = SpinodoidDataset(store, "train"), SpinodoidDataset(store, "train", True)
    for i in range(len(lazy)):
        assert torch.equal(lazy[i][0], memory[i][0]) and torch.equal(lazy[i][1], memory[i][1])
    memory[0][0].fill_(9)  # items are copies: the cached inputs stay intact
    assert torch.equal(memory[0][0], lazy[0][0])


def test_dataset_rejects_unknown_split(shards, tmp_path: Path) -> None:
    store = assemble_store(shards, tmp_path / "dataset.zarr")
    with pytest.raises(ValueError, match="split"):
        SpinodoidDataset(store, "validation")


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
