"""LBM throughput: lattice updates per second and seconds per structure (3 directions).

Run: ``python benchmarks/lbm.py [--arch cpu|cuda] [--sizes 64 96]``. Prints, per size, the
three directions solved as one batch: steps, wall time, MLUPS over all nodes and over pore
nodes, and the fraction of the memory-bandwidth roofline (57 bytes per node per step:
7 float32 read + 7 written + the uint8 mask). With TauFactor importable it also times
TauFactor's solver on the same structure and prints the time ratio.
"""

import argparse
import importlib.util
import time

import numpy as np

from spinodoid import lbm
from spinodoid.structure import generate_structure

BYTES_PER_NODE_STEP = 57
THETA_HAT_1 = (0.092, 0.135, 0.245, 0.666)  # the paper's case-1 design (SPEC §5)


def bench(size: int, arch: str, bandwidth_gbs: float) -> None:
    """Solve x, y, z of θ̂₁ (a scaled by 192/size) at ``size`` as one batch and print figures."""
    a = np.array(THETA_HAT_1[:3]) * 192 / size
    structure = generate_structure((*a, THETA_HAT_1[3]), 0, size)
    batch = np.stack([np.moveaxis(structure, axis, 0) for axis in range(3)])
    lbm.lbm_diffusivity(batch[:, :16], arch=arch, max_steps_per_voxel=2)  # compile
    t0 = time.perf_counter()
    run = lbm.lbm_diffusivity(batch, arch=arch)
    seconds = time.perf_counter() - t0
    updates = 3 * size**3 * run.steps.max()
    mlups = updates / seconds / 1e6
    roofline = mlups * 1e6 * BYTES_PER_NODE_STEP / (bandwidth_gbs * 1e9)
    print(
        f"N={size} {arch}: eta={np.round(run.eta, 5)} steps={run.steps}"
        f" ({run.steps.max() / size:.1f} N)"
        f" {seconds:.2f} s/structure (3 dirs), {mlups:.0f} MLUPS all nodes,"
        f" {mlups * (1 - structure.mean()):.0f} MLUPS pore nodes, {roofline:.0%} of"
        f" {bandwidth_gbs:.0f} GB/s roofline, converged={run.converged.all()}"
    )
    if importlib.util.find_spec("taufactor") is not None:
        import taufactor
        import torch

        device = "cuda" if arch == "cuda" else "cpu"
        t0 = time.perf_counter()
        for axis in range(3):
            pore = np.moveaxis(structure == 0, axis, 0).astype(np.float32)
            solver = taufactor.Solver(pore, device=torch.device(device))
            solver.solve(verbose=False, conv_crit=1e-5)
        tf_seconds = time.perf_counter() - t0
        print(
            f"  TauFactor {device}: {tf_seconds:.2f} s (3 dirs); LBM/TauFactor time ratio"
            f" {seconds / tf_seconds:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    parser.add_argument("--bandwidth", type=float, default=None, help="device GB/s")
    args = parser.parse_args()
    sizes = args.sizes or ([64, 96] if args.arch == "cpu" else [192, 576])
    bandwidth = args.bandwidth or (20.0 if args.arch == "cpu" else 3350.0)
    for size in sizes:
        bench(size, args.arch, bandwidth)


if __name__ == "__main__":
    main()
