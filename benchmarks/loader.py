"""Benchmark of the dataset store and the augmenting loader (issue 5; spinodoid.formats.dataset).

Prints three tables, each with ratios against a baseline measured in the same run:

1. codecs: bytes per sample and write/read time of one (N/2)^3 block-count chunk for candidate
   zarr codecs (baseline: uncompressed), on block counts of GRF structures drawn from the prior;
2. loader: samples per second delivered to the model (zarr read, DataLoader with 0, 1, 2, ...
   workers, transfer to the device, ``augment_batch``, ``to_model_input``), lazily and with
   ``in_memory=True``, against the same augmentation applied to batches already in memory;
3. the training-step rate of ``SpinodoidCNN`` (SGD, batch 16; bf16 and channels-last on CUDA) and
   the ratio loader / step (target: at least 2).

Run: ``python benchmarks/loader.py`` (paper scale N = 192; on a CUDA machine it uses the GPU) or
``python benchmarks/loader.py --size 64 --structures 24 --device cpu`` for a quick CPU check.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
import zarr
from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

from spinodoid.formats.dataset import INPUT_CODEC_LEVEL, assemble_dataset
from spinodoid.formats.shards import Shard, write_shard_h5
from spinodoid.structures.grf import generate_structures_torch
from spinodoid.structures.prior import sample_prior
from spinodoid.surrogates.cnn import SpinodoidCNN, resolve_device
from spinodoid.surrogates.cnn_input import block_counts, to_model_input
from spinodoid.surrogates.training_data import SpinodoidDataset, augment_batch

CODECS = {
    "none": None,
    "zstd-1": ZstdCodec(level=1),
    "zstd-3": ZstdCodec(level=3),
    f"zstd-{INPUT_CODEC_LEVEL} (chosen)": ZstdCodec(level=INPUT_CODEC_LEVEL),
    "zstd-15": ZstdCodec(level=15),
    "gzip-5": GzipCodec(level=5),
    "blosc-lz4-bitshuffle": BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle"),
    "blosc-lz4": BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle"),
    "blosc-zstd-5": BloscCodec(cname="zstd", clevel=5, shuffle="noshuffle"),
}


def make_structures(size: int, count: int, device: torch.device) -> tuple[np.ndarray, ...]:
    """``count`` structures (uint8 (count, N, N, N)) from the prior, with θ and seeds."""
    theta = sample_prior(np.random.default_rng(0), count)
    seeds = np.arange(count, dtype=np.int64)
    parts = [
        generate_structures_torch(theta[i : i + 4], seeds[i : i + 4], size, device).cpu().numpy()
        for i in range(0, count, 4)
    ]
    return np.concatenate(parts), theta, seeds


def store_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def codec_table(counts: np.ndarray, workdir: Path, repeats: int) -> None:
    """Size and per-sample write/read time of one-sample chunks for each codec."""
    n, m = counts.shape[0], counts.shape[1]
    order = np.random.default_rng(1).permutation(n)
    print(f"\n== codecs: {n} samples of {m}^3 uint8 block counts ({counts[0].nbytes} B raw) ==")
    print(f"{'codec':26s} {'B/sample':>10s} {'ratio':>6s} {'write ms':>9s} {'read ms':>8s}")
    base = None
    for name, codec in CODECS.items():
        path = workdir / f"codec-{len(name)}-{abs(hash(name))}.zarr"
        start = time.perf_counter()
        array = zarr.create_array(
            path, shape=counts.shape, chunks=(1, m, m, m), dtype="uint8", compressors=codec
        )
        array[:] = counts
        write = (time.perf_counter() - start) / n
        reader = zarr.open_array(path, mode="r")
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for i in order:
                reader[int(i)]
            times.append((time.perf_counter() - start) / n)
        size = store_bytes(path) / n
        base = base or size
        print(
            f"{name:26s} {size:10.0f} {base / size:6.2f} {write * 1e3:9.2f} {min(times) * 1e3:8.2f}"
        )
        shutil.rmtree(path)


def build_store(structures, theta, seeds, workdir: Path) -> Path:
    """A store from one synthetic shard (η drawn at random; only the loader speed matters)."""
    n, size = structures.shape[0], structures.shape[1]
    shard = Shard(index=0, size=size, base_seed=0, structures=structures, theta=theta, seed=seeds)
    write_shard_h5(shard, workdir / "shard_00000.h5")
    with h5py.File(workdir / "shard_00000.eta.h5", "w") as f:
        f["eta"] = np.random.default_rng(2).uniform(0.1, 0.9, (n, 3))
        f["converged"] = np.ones((n, 3), dtype=bool)
        f.attrs.update(solver="synthetic", interface="voxel")
    return assemble_dataset(
        [workdir / "shard_00000.h5"],
        [workdir / "shard_00000.eta.h5"],
        workdir / "dataset.zarr",
        n - 2,
        1,
        1,
        split_seed=0,
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def consume(batches, device: torch.device, count: int, warmup: int) -> float:
    """Samples per second of ``count`` batches moved to ``device``, augmented and rescaled."""
    gen = torch.Generator(device=device).manual_seed(0)
    done, start = 0, 0.0
    for step, (x, _) in enumerate(batches()):
        if step == warmup:
            sync(device)
            start, done = time.perf_counter(), 0
        inputs = to_model_input(augment_batch(x.to(device, non_blocking=True), gen))
        done += inputs.shape[0]
        if step + 1 == warmup + count:
            break
    sync(device)
    return done / (time.perf_counter() - start)


def cycle(loader):
    def batches():
        while True:
            yield from loader

    return batches


def loader_table(store: Path, device: torch.device, workers, batch: int, count: int) -> float:
    """Loader throughput per worker count, lazy and in memory; returns the best lazy rate."""
    data = SpinodoidDataset(store, "train")
    memory = torch.stack([data[i][0] for i in range(min(len(data), 4 * batch))])

    def in_memory():
        while True:
            idx = torch.randint(0, memory.shape[0], (batch,))
            yield memory[idx], None

    base = consume(in_memory, device, count, warmup=3)
    print(
        f"\n== loader: batch {batch}, {len(data)} items of {tuple(memory.shape[1:])}, {device} =="
    )
    print(f"{'source':28s} {'samples/s':>10s} {'ratio':>6s}")
    print(f"{'in memory (baseline)':28s} {base:10.1f} {1.0:6.2f}")
    best = 0.0
    start = time.perf_counter()
    cached = SpinodoidDataset(store, "train", in_memory=True)
    print(f"{'(in_memory load)':28s} {len(cached.indices) / (time.perf_counter() - start):10.1f}")
    for source, dataset in (("zarr", data), ("in_memory", cached)):
        for w in workers:
            loader = torch.utils.data.DataLoader(
                dataset,
                batch_size=batch,
                shuffle=True,
                num_workers=w,
                pin_memory=device.type == "cuda",
                persistent_workers=w > 0,
                generator=torch.Generator().manual_seed(0),
                drop_last=True,
            )
            rate = consume(cycle(loader), device, count, warmup=3)
            best = max(best, rate) if source == "zarr" else best
            print(f"{f'{source}, {w} workers':28s} {rate:10.1f} {rate / base:6.2f}")
    return best


def step_rate(input_size: int, device: torch.device, batch: int, steps: int) -> float:
    """Training steps of the paper's CNN, in samples per second."""
    model = SpinodoidCNN(input_size).to(device)
    cuda = device.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last_3d)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.rand(batch, 1, input_size, input_size, input_size, device=device) - 0.5
    if cuda:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    y = torch.zeros(batch, device=device)
    for step in range(steps + 3):
        if step == 3:
            sync(device)
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = torch.mean((model(x).float().reshape(-1) - y) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=192, help="structure size N (paper 192)")
    parser.add_argument("--structures", type=int, default=48)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--batches", type=int, default=40, help="timed batches per loader")
    parser.add_argument("--steps", type=int, default=20, help="timed CNN training steps")
    parser.add_argument("--repeats", type=int, default=3, help="read passes per codec")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        start = time.perf_counter()
        structures, theta, seeds = make_structures(args.size, args.structures, device)
        print(
            f"{args.structures} structures of {args.size}^3 in {time.perf_counter() - start:.1f} s"
        )
        codec_table(block_counts(structures), workdir, args.repeats)
        store = build_store(structures, theta, seeds, workdir)
        best = loader_table(store, device, args.workers, args.batch, args.batches)
    rate = step_rate(args.size // 2, device, args.batch, args.steps)
    print(f"\n== CNN training step ({device}, batch {args.batch}) ==")
    print(
        f"step rate {rate:.1f} samples/s; best lazy loader / step = {best / rate:.2f} (target >= 2)"
    )


if __name__ == "__main__":
    main()
