"""Benchmark: seconds per structure (generation + connectivity checks) at N = 192.

Prints, for the library's numpy path on one CPU core and for the batched torch path (CPU, and CUDA
when available), the time per structure and its ratio to a baseline measured in the same run: a
straightforward port of the paper's procedure (float64 numpy FFT, np.quantile threshold, one
connected-component labelling per phase and direction). The paper's Matlab code took 3.8 s per
structure (2.6 s generation + 1.2 s checks) on one thread. The porosity threshold of the torch
path (an exact select, ``kth_smallest_torch``) is also timed against ``torch.sort`` of the same
fields. ``--profile`` adds torch's profiler
table of the batched torch path (the operators that take its time, on the device it runs on).

Usage: python benchmarks/structures.py [--size 192] [--repeats 3] [--batch 8] [--device cpu|cuda]
       [--profile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from spinodoid.structures.connectivity import is_bicontinuous  # noqa: E402
from spinodoid.structures.grf import (  # noqa: E402
    generate_structure,
    generate_structures_torch,
    kth_smallest_torch,
    level_set_torch,
)

THETA = (0.092, 0.135, 0.245, 0.666)
PAPER_SECONDS = 3.8


def baseline_structure(theta, seed: int, size: int) -> bool:
    """The naive reference: float64 everything, a quantile, six labellings."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((size, size, size))
    q = np.fft.fftfreq(size, d=1.0 / size)
    qx, qy, qz = np.meshgrid(q, q, q, indexing="ij")
    s = (theta[0] * qx) ** 2 + (theta[1] * qy) ** 2 + (theta[2] * qz) ** 2
    field = np.fft.ifftn(np.fft.fftn(noise) * np.sqrt((1 + s**4) ** -2)).real
    solid = field >= np.quantile(field, theta[3])
    ok = True
    for phase in (solid, ~solid):
        for axis in range(3):
            labels, _ = ndimage.label(phase)
            ok &= bool(
                np.intersect1d(np.take(labels, 0, axis), np.take(labels, -1, axis)).max() > 0
            )
    return ok


def seconds_per_call(function, repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", action="store_true", help="profile the torch path")
    args = parser.parse_args()
    size = args.size

    baseline = seconds_per_call(lambda: baseline_structure(THETA, 0, size), args.repeats)
    ours = seconds_per_call(
        lambda: is_bicontinuous(generate_structure(THETA, 0, size)), args.repeats
    )
    generation = seconds_per_call(lambda: generate_structure(THETA, 0, size), args.repeats)
    print(f"N = {size}, one CPU core")
    print(f"  baseline (naive port)        {baseline:8.3f} s/structure")
    print(
        f"  numpy: generation + checks   {ours:8.3f} s/structure   "
        f"{baseline / ours:5.2f}x baseline, {PAPER_SECONDS / ours:5.1f}x the paper's 3.8 s"
    )
    print(f"  numpy: generation only       {generation:8.3f} s/structure")

    import torch

    thetas = np.tile(THETA, (args.batch, 1))
    seeds = list(range(args.batch))

    def torch_batch():
        out = generate_structures_torch(thetas, seeds, size, args.device)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return out

    batched = seconds_per_call(torch_batch, args.repeats) / args.batch
    print(
        f"  torch ({args.device}, batch {args.batch}): generation "
        f"{batched * 1e3:8.1f} ms/structure   {baseline / batched:6.1f}x baseline"
    )
    print_threshold_times(thetas, seeds, size, args.device, args.repeats)
    if args.profile:
        print_profile(torch_batch, args.device)


def print_threshold_times(thetas, seeds, size: int, device: str, repeats: int) -> None:
    """Seconds per structure of the porosity threshold: exact select against a full sort."""
    import torch

    fields = level_set_torch(thetas, seeds, size, device).reshape(len(seeds), -1)
    rank = torch.full((len(seeds),), round(THETA[3] * size**3), device=fields.device)

    def synced(function):
        def call():
            out = function()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            return out

        return call

    by_sort = synced(lambda: fields.sort(dim=1).values.gather(1, rank[:, None])[:, 0])
    by_select = synced(lambda: kth_smallest_torch(fields, rank))
    assert torch.equal(by_sort(), by_select())
    sort_s = seconds_per_call(by_sort, repeats) / len(seeds)
    select_s = seconds_per_call(by_select, repeats) / len(seeds)
    print(
        f"  threshold ({device}): torch.sort {sort_s * 1e3:8.2f} ms/structure, "
        f"kth_smallest_torch {select_s * 1e3:8.2f} ms/structure ({sort_s / select_s:5.1f}x)"
    )


def print_profile(function, device: str) -> None:
    """torch profiler table of one call of ``function`` (after the timed calls warmed it up)."""
    from torch.profiler import ProfilerActivity, profile

    cuda = device.startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        function()
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=15))


if __name__ == "__main__":
    main()
