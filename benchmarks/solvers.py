"""Seconds per structure of the diffusivity solvers on the same voxels, in one run.

Run: ``python benchmarks/solvers.py`` (CPU; N = 64, 96, 128, 192, three directions each) or
``--sizes 576 --axes 0 --solvers multigrid --interfaces subvoxel`` for one large direction.
Structure: θ̂₁ with a·192/N (the paper's voxels per feature), seed 0. For every size it prints
one line per solver:

- ``multigrid`` (:mod:`spinodoid.solvers.multigrid`), staircase with zero-flux sides (TauFactor's
  problem) and sub-voxel with periodic sides (the pipeline's);
- ``lbm`` (:mod:`spinodoid.solvers.lbm`, three directions as one batch), the same two problems;
- ``taufactor`` (TauFactor 1.2.1 ``Solver``, SOR, ``conv_crit`` 1e-4, zero-flux sides, the
  staircase voxels; imported as in ``benchmarks/lbm.py``);
- ``fv`` (:mod:`spinodoid.solvers.fv`, pyamg smoothed aggregation + CG), staircase, zero-flux.

Columns: η per direction, seconds for the three directions (wall, and CPU seconds of this
process), iterations (CG iterations, LBM steps, SOR sweeps), the speed-up of multigrid over
each, and bytes moved per unknown, counted from the kernels as if nothing stayed in cache:
multigrid ``iterations × BYTES_PER_ITERATION`` per cell, the LBM 57 B (staircase) or 60 B
(sub-voxel) per node and step; TauFactor and pyamg are not counted. Also the load average:
the machine is shared, so compare ratios within one run. The peak resident memory of the
process is printed at the end (``--sizes 576`` run alone measures multigrid's footprint).

Usage: python benchmarks/solvers.py [--sizes 64 96 128 192] [--axes 0 1 2]
       [--solvers multigrid lbm taufactor fv] [--interfaces voxel subvoxel] [--arch cpu|cuda]
"""

import argparse
import os
import resource
import time

import numpy as np
from taufactor_baseline import import_taufactor

from spinodoid.solvers import backend, fv, lbm
from spinodoid.solvers.multigrid import multigrid_diffusivity
from spinodoid.structures.grf import level_set

THETA_HAT_1 = (0.092, 0.135, 0.245, 0.666)  # the paper's case-1 design
#: Bytes per fine cell and CG iteration (multigrid_kernels, float32 vectors, uint8 codes):
#: matvec 11, CG update 24, dot 8, direction 12; V-cycle: 8 red-black half-sweeps of 15,
#: residual 15, restriction 4, prolongation 8, zeroing 4; coarse levels ≈ 15 % on top.
BYTES_PER_ITERATION = 11 + 24 + 8 + 12 + round(1.15 * (8 * 15 + 15 + 4 + 8 + 4))
LBM_BYTES = {"voxel": 57, "subvoxel": 60}
#: The two problems per solver: interface → lateral boundary condition.
INTERFACES = {"voxel": "zero_flux", "subvoxel": "periodic"}


def structure(size: int) -> tuple[np.ndarray, np.ndarray]:
    """θ̂₁ with a·192/N, seed 0: uint8 voxels (1 = solid) and float32 level set."""
    theta = np.array(THETA_HAT_1)
    theta[:3] *= 192 / size
    psi = level_set(theta, 0, size)
    return (psi >= 0).view(np.uint8), psi


def timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    out = function()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def bench_multigrid(voxels, psi, axes, interface, lateral, arch):
    level = psi if interface == "subvoxel" else None
    # untimed first solve at this size, as the LBM's compile call below: the first solve of a
    # new grid size in a process pays up to 1.7 s of set-up (docs/performance.md)
    multigrid_diffusivity(voxels, axes[0], lateral, level_set=level, arch=arch)
    results, wall, cpu = timed(
        lambda: [
            multigrid_diffusivity(voxels, axis, lateral, level_set=level, arch=arch)
            for axis in axes
        ]
    )
    iterations = [r.iterations for r in results]
    moved = sum(
        r.iterations * BYTES_PER_ITERATION * voxels.size / max(r.unknowns, 1) for r in results
    )
    return [r.eta for r in results], wall, cpu, iterations, moved


def bench_lbm(voxels, psi, axes, interface, lateral, arch):
    batch = np.stack([np.moveaxis(psi, axis, 0) for axis in axes])
    geometry = (
        dict(solid=None, level_set=batch)
        if interface == "subvoxel"
        else dict(solid=(batch >= 0).view(np.uint8))
    )
    lbm.lbm_diffusivity(**geometry, lateral=lateral, arch=arch, max_steps_per_voxel=1)  # compile
    run, wall, cpu = timed(lambda: lbm.lbm_diffusivity(**geometry, lateral=lateral, arch=arch))
    pore = (voxels == 0).mean()
    moved = int(run.steps.max()) * LBM_BYTES[interface] * len(axes) / pore
    return list(run.eta), wall, cpu, list(run.steps), moved


def bench_taufactor(voxels, axes, arch):
    taufactor = import_taufactor()
    etas, sweeps = [], []

    def solve_all():
        for axis in axes:
            pore = np.moveaxis(voxels == 0, axis, 0).astype(np.float32)
            solver = taufactor.Solver(pore, device="cuda" if arch == "cuda" else "cpu")
            solver.solve(verbose=False, conv_crit=1e-4, iter_limit=100_000)
            etas.append(float(pore.mean()) / float(np.asarray(solver.tau).ravel()[0]))
            sweeps.append(int(solver.iter))

    _, wall, cpu = timed(solve_all)
    return etas, wall, cpu, sweeps, float("nan")


def bench_fv(voxels, axes):
    results, wall, cpu = timed(lambda: [fv.fv_diffusivity(voxels, a, "zero_flux") for a in axes])
    return [r.eta for r in results], wall, cpu, [r.iterations for r in results], float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 96, 128, 192])
    parser.add_argument("--axes", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--solvers", nargs="+", default=["multigrid", "lbm", "taufactor", "fv"])
    parser.add_argument("--arch", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--interfaces",
        nargs="+",
        choices=INTERFACES,
        default=list(INTERFACES),
        help="voxel: staircase, zero-flux sides; subvoxel: the pipeline's, periodic sides",
    )
    args = parser.parse_args()
    backend.init_backend(args.arch)
    axes = tuple(args.axes)
    # a workspace that fits the largest size (a straight channel: solved by its initial guess),
    # then every kernel compiled on the smallest structure, so no solve below pays compilation
    largest = max(args.sizes)
    channel = np.ones((largest, largest, largest), dtype=np.uint8)
    channel[:, : largest // 2] = 0
    multigrid_diffusivity(channel, 0, "zero_flux", arch=args.arch)
    smallest = structure(min(args.sizes))
    problems = {interface: INTERFACES[interface] for interface in args.interfaces}
    for interface, lateral in problems.items():
        bench_multigrid(*smallest, (0,), interface, lateral, args.arch)
    for size in args.sizes:
        voxels, psi = structure(size)
        rows = {}
        for solver, bench in (("multigrid", bench_multigrid), ("lbm", bench_lbm)):
            if solver in args.solvers:
                for interface, lateral in problems.items():
                    rows[f"{solver} {interface} {lateral}"] = bench(
                        voxels, psi, axes, interface, lateral, args.arch
                    )
        if "taufactor" in args.solvers:
            rows["taufactor voxel zero_flux"] = bench_taufactor(voxels, axes, args.arch)
        if "fv" in args.solvers and args.arch == "cpu":
            rows["fv voxel zero_flux"] = bench_fv(voxels, axes)
        print(f"N = {size}, {len(axes)} directions, {args.arch}, load {os.getloadavg()[0]:.1f}")
        for name, (eta, wall, cpu, iterations, moved) in rows.items():
            ratio = ""
            mine = rows.get(f"multigrid {' '.join(name.split()[1:])}")
            if mine is not None and not name.startswith("multigrid"):
                ratio = f"  multigrid {wall / mine[1]:6.1f}x faster"
            print(
                f"  {name:28s} eta {np.round(eta, 5)}  {wall:8.2f} s wall {cpu:8.2f} s CPU"
                f"  iterations {iterations}  {moved / 1e3:8.1f} kB/unknown{ratio}",
                flush=True,
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak resident memory {peak:.2f} GiB")


if __name__ == "__main__":
    main()
