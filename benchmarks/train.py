"""Training throughput of the paper's CNN: samples per second and seconds per paper epoch.

One training step = lateral augmentation on the device + rescaling + forward + MSE on logit η +
backward + SGD (momentum 0.9), on random 96³ block counts already on the device (the data
loader is not timed). A paper epoch is 24 576 samples (8192 structures × 3 directions); the paper
reports 340 s per epoch on one A100 and our target on one H100 is ≤ 60 s.

Each device's first variant (fp32, contiguous) is the baseline; the others print their speed-up
against it, measured in the same run.

With ``--end-to-end S`` it also times :func:`spinodoid.surrogates.train.train` itself (data loader,
workers, validation and checkpointing included) on a throw-away store of S random structures,
per device: the second epoch's samples per second from metrics.csv.

    python benchmarks/train.py                      # cpu, and cuda when available
    python benchmarks/train.py --devices cuda --steps 30 --compile --end-to-end 64
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch

from spinodoid.formats.dataset import assemble_dataset
from spinodoid.formats.shards import Shard, write_shard_h5
from spinodoid.surrogates.cnn import SpinodoidCNN
from spinodoid.surrogates.cnn_input import to_model_input
from spinodoid.surrogates.train import TrainConfig, train
from spinodoid.surrogates.training_data import augment_batch

PAPER_EPOCH_SAMPLES = 24_576  # 3 × 8192 training structures
PAPER_A100_SECONDS = 340.0


@dataclass(frozen=True)
class Variant:
    name: str
    bf16: bool
    channels_last: bool
    compile: bool = False


def _variants(device: str, with_compile: bool) -> list[Variant]:
    if device == "cpu":
        return [Variant("fp32", False, False)]
    out = [
        Variant("fp32 (tf32 convs)", False, False),
        Variant("fp32 channels-last", False, True),
        Variant("bf16", True, False),
        Variant("bf16 channels-last", True, True),
    ]
    if with_compile:
        out.append(Variant("bf16 compiled", True, False, compile=True))
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(
    variant: Variant, device: torch.device, input_size: int, batch: int, warmup: int, steps: int
) -> float:
    """Training samples per second of one variant."""
    torch.manual_seed(0)
    model = SpinodoidCNN(input_size).to(device)
    fmt = torch.channels_last_3d if variant.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    step_model = torch.compile(model) if variant.compile else model
    optimizer = torch.optim.SGD(model.parameters(), lr=10**-2.5, momentum=0.9)
    gen = torch.Generator(device=device).manual_seed(0)
    n = input_size
    counts = torch.randint(0, 9, (batch, n, n, n), dtype=torch.uint8, device=device, generator=gen)
    eta = torch.rand(batch, device=device, generator=gen) * 0.8 + 0.1

    def step() -> None:
        x = to_model_input(augment_batch(counts, gen)).contiguous(memory_format=fmt)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=variant.bf16):
            pred = step_model(x)
        loss = torch.mean((pred.float() - torch.logit(eta)) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps * batch / (time.perf_counter() - start)


def _random_store(root: Path, structures: int, size: int) -> Path:
    """A store of random 0/1 structures of side ``size`` with random η (timing only)."""
    rng = np.random.default_rng(0)
    voxels = (rng.random((structures, size, size, size), dtype=np.float32) < 0.5).astype(np.uint8)
    theta = np.tile([0.1, 0.1, 0.1, 0.5], (structures, 1))
    write_shard_h5(Shard(0, size, 0, voxels, theta, np.arange(structures)), root / "s.h5")
    with h5py.File(root / "s.eta.h5", "w") as f:
        f["eta"] = rng.uniform(0.1, 0.9, (structures, 3))
        f["converged"] = np.ones((structures, 3), dtype=bool)
        f.attrs.update(solver="random", interface="voxel")
    n_val = max(1, structures // 8)
    return assemble_dataset(
        [root / "s.h5"], [root / "s.eta.h5"], root / "d.zarr", structures - 2 * n_val, n_val,
        n_val, split_seed=0,
    )  # fmt: skip


def end_to_end(device: str, structures: int, input_size: int, workers: int) -> float:
    """Samples per second of the second epoch of :func:`spinodoid.surrogates.train.train`."""
    with tempfile.TemporaryDirectory() as tmp:
        store = _random_store(Path(tmp), structures, 2 * input_size)
        cuda = device == "cuda"
        cfg = TrainConfig(
            schedule=((2, -3.0),), device=device, mixed_precision=cuda, channels_last=cuda,
            num_workers=workers,
        )  # fmt: skip
        train(cfg, store, Path(tmp) / "out")
        return float(pd.read_csv(Path(tmp) / "out" / "metrics.csv")["samples_per_second"].iloc[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    parser.add_argument("--devices", nargs="+", default=default_devices)
    parser.add_argument("--input-size", type=int, default=96, help="block-count side n (paper 96)")
    parser.add_argument("--batch-size", type=int, default=16, help="on cuda (paper 16)")
    parser.add_argument("--cpu-batch-size", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20, help="timed steps on cuda")
    parser.add_argument("--cpu-steps", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="add a torch.compile variant")
    parser.add_argument("--end-to-end", type=int, default=0, metavar="S", help="see above")
    parser.add_argument("--workers", type=int, default=4, help="loader workers (end-to-end)")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    print(f"input {args.input_size}³, paper epoch = {PAPER_EPOCH_SAMPLES} samples")
    print(f"{'device':<28} {'variant':<30} {'samples/s':>10} {'s/epoch':>9} {'speed-up':>9}")
    for name in args.devices:
        device = torch.device(name)
        cpu = device.type == "cpu"
        batch = args.cpu_batch_size if cpu else args.batch_size
        steps, warmup = (args.cpu_steps, 1) if cpu else (args.steps, 5)
        label = (
            torch.cuda.get_device_name(device)
            if not cpu
            else f"cpu ({torch.get_num_threads()} threads)"
        )
        baseline = None
        for variant in _variants(name, args.compile):
            rate = time_training(variant, device, args.input_size, batch, warmup, steps)
            baseline = baseline or rate
            epoch = PAPER_EPOCH_SAMPLES / rate
            row = f"{label:<28} {variant.name:<30} {rate:>10.1f} {epoch:>9.1f}"
            print(f"{row} {rate / baseline:>8.2f}x")
        if args.end_to_end:
            rate = end_to_end(name, args.end_to_end, args.input_size, args.workers)
            name_e2e = f"train() e2e, {args.workers} workers"
            row = f"{label:<28} {name_e2e:<30} {rate:>10.1f} {PAPER_EPOCH_SAMPLES / rate:>9.1f}"
            print(f"{row} {rate / baseline:>8.2f}x", flush=True)
    print(f"paper: {PAPER_A100_SECONDS:.0f} s/epoch on one A100; target <= 60 s on one H100")


if __name__ == "__main__":
    main()
