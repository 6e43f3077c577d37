"""LBM throughput: lattice updates per second and seconds per structure, against baselines.

Run: ``python benchmarks/lbm.py`` (CPU: N = 64 and 96, three directions as one batch) or
``python benchmarks/lbm.py --arch cuda`` (N = 192 three directions, N = 576 one direction,
staircase only at 576; about 1–2 minutes on one H100). For each size and interface it prints
the steps to converge, the wall time, MLUPS over all nodes, and the memory traffic as a
fraction of two ceilings: a plain parallel copy of an array the size of the populations,
measured in the same run on the same device, and the nominal bandwidth (``--bandwidth``,
GB/s; H100 SXM 3350). Traffic counts 57 B per node per step (7 float32 read, 7 written,
the uint8 mask; +3 B of face codes for the sub-voxel model), as if every node were updated.
On the CPU it also prints MLUPS per CPU-second of this process (all its threads) and the
load average, because the machine is shared.

Baseline solver: TauFactor (``taufactor.Solver``, SOR on the same voxels, zero-flux lateral
faces, its flux-uniformity criterion ``conv_crit`` = our 1e-4) on the same device; the LBM
row it is compared with solves the same lateral condition. taufactor 1.2.1 imports IPython
(and some installs pyvista) at import time only for notebook plotting; where those packages
are missing (the GPU machine), minimal stand-in modules are registered in ``sys.modules``
before importing it, so the solver itself runs unchanged.

``--equal-accuracy N`` compares the two at the same *accuracy* rather than on the same voxels,
x direction, zero-flux lateral faces (TauFactor's), θ̂₁ with a·192/N, seed 1 (the refinement
study's structure, docs/lbm.md). The sub-voxel LBM solves the base grid and its 2× spectral
refinement, whose order-2 extrapolation gives the reference η∞; TauFactor solves the staircase
of the same level set at 1×, 2×, 3× (refined as in ``benchmarks/refinement.py``). Printed: each
solve's deviation from η∞ and its time, and the time TauFactor would need to match the
sub-voxel LBM's base-grid deviation, from power laws in the factor fitted to its 2× and 3×
solves (error ∝ factor^−p, time ∝ factor^q).
"""

import argparse
import os
import time

import numpy as np
import taichi as ti
from taufactor_baseline import import_taufactor, taufactor_eta

from spinodoid.solvers import backend, lbm
from spinodoid.solvers.diffusivity import refined_transport_first
from spinodoid.structures.connectivity import NonPercolatingError
from spinodoid.structures.grf import level_set

THETA_HAT_1 = (0.092, 0.135, 0.245, 0.666)  # the paper's case-1 design (docs/method.md §5)
BYTES = {"voxel": 57, "subvoxel": 60}


@ti.kernel
def _copy(src: ti.template(), dst: ti.template()):
    for k in src:
        dst[k] = src[k]


def copy_bandwidth(nbytes: int, repeats: int = 10) -> float:
    """GB/s of a plain parallel copy between two flat float32 arrays of ``nbytes`` each,
    counted as 2 × nbytes of traffic (read + write), on the current taichi arch."""
    builder = ti.FieldsBuilder()
    src, dst = ti.field(ti.f32), ti.field(ti.f32)
    for field in (src, dst):
        builder.dense(ti.i, nbytes // 4).place(field)
    tree = builder.finalize()
    _copy(src, dst)
    ti.sync()
    t0 = time.perf_counter()
    for _ in range(repeats):
        _copy(src, dst)
    ti.sync()
    seconds = time.perf_counter() - t0
    tree.destroy()
    return 2 * nbytes * repeats / seconds / 1e9


def structure_batch(size: int, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """θ̂₁ with a·192/N (the paper's voxels per feature), seed 0: voxels and level set with
    each requested transport axis first, stacked (B, N, N, N)."""
    theta = np.array(THETA_HAT_1)
    theta[:3] *= 192 / size
    psi = level_set(theta, 0, size)
    stack = np.stack([np.moveaxis(psi, axis, 0) for axis in axes])
    return (stack >= 0).view(np.uint8), stack


def bench_lbm(size: int, axes, interface: str, arch: str, lateral: str, nominal: float) -> float:
    """Solve, print the figures, return the wall time (s)."""
    solid, psi = structure_batch(size, axes)
    geometry = dict(solid=None, level_set=psi) if interface == "subvoxel" else dict(solid=solid)
    lbm.lbm_diffusivity(**geometry, lateral=lateral, arch=arch, max_steps_per_voxel=1)  # compile
    cpu0 = time.process_time()
    run = lbm.lbm_diffusivity(**geometry, lateral=lateral, arch=arch)
    cpu = time.process_time() - cpu0
    copy_gbs = copy_bandwidth(len(axes) * 7 * 4 * size**3)
    updates = len(axes) * size**3 * int(run.steps.max())
    mlups = updates / run.seconds / 1e6
    traffic = mlups * 1e6 * BYTES[interface] / 1e9
    line = (
        f"N={size} {arch} {interface:8s} {lateral:9s} {len(axes)} dir: eta {np.round(run.eta, 4)}"
        f" steps {run.steps} ({run.steps.max() / size:.1f} N) {run.seconds:.2f} s,"
        f" {mlups:.0f} MLUPS, {traffic:.1f} GB/s = {traffic / copy_gbs:.0%} of copy"
        f" ({copy_gbs:.1f} GB/s), {traffic / nominal:.0%} of nominal {nominal:.0f} GB/s,"
        f" converged {run.converged.all()}"
    )
    if arch == "cpu":
        line += f"; {updates / cpu / 1e6:.0f} MLUP per CPU-s, load {os.getloadavg()[0]:.1f}"
    print(line, flush=True)
    return run.seconds


def bench_taufactor(size: int, axes, arch: str, lbm_seconds: float) -> None:
    """TauFactor on the same voxels and device; prints its time and the LBM/TauFactor ratio."""
    try:
        import_taufactor()
    except ImportError as error:
        print(f"  TauFactor not importable ({error}); no comparison")
        return
    solid, _ = structure_batch(size, axes)
    device = "cuda" if arch == "cuda" else "cpu"
    solves = [taufactor_eta(pore, device) for pore in solid == 0]
    eta = [e for e, _ in solves]
    seconds = sum(t for _, t in solves)
    print(
        f"  TauFactor {device} (conv_crit 1e-4): eta {np.round(eta, 4)} {seconds:.2f} s;"
        f" LBM/TauFactor time ratio {lbm_seconds / seconds:.3f}",
        flush=True,
    )


def bench_equal_accuracy(size: int, arch: str, factors=(1, 2, 3)) -> None:
    """Sub-voxel LBM vs staircase TauFactor at the same deviation from η∞ (module docstring)."""
    theta = np.array(THETA_HAT_1)
    theta[:3] *= 192 / size
    psi = level_set(theta, 1, size)
    device = "cuda" if arch == "cuda" else "cpu"
    subvoxel = {}
    try:
        for factor in (1, 2):
            batch = refined_transport_first(psi, (0,), factor)
            run = lbm.lbm_diffusivity(None, level_set=batch, lateral="zero_flux", arch=arch)
            subvoxel[factor] = (float(run.eta[0]), run.seconds)
    except NonPercolatingError:
        print(f"N={size}: the pore space does not connect in x with zero-flux sides; no comparison")
        return
    reference = subvoxel[2][0] + (subvoxel[2][0] - subvoxel[1][0]) / (2**2 - 1)
    print(f"N={size} {arch}, x, zero-flux sides: eta_inf {reference:.5f} (sub-voxel 1x, 2x, p=2)")
    for factor, (eta, seconds) in subvoxel.items():
        print(
            f"  LBM sub-voxel {factor}x: eta {eta:.5f} ({eta / reference - 1:+.2%}) {seconds:.2f} s"
        )
    staircase = {}
    for factor in factors:
        pore = refined_transport_first(psi, (0,), factor)[0] < 0
        eta, seconds = taufactor_eta(pore, device)
        staircase[factor] = (abs(eta / reference - 1), seconds)
        deviation = f"{eta / reference - 1:+.2%}"
        print(f"  TauFactor staircase {factor}x: eta {eta:.5f} ({deviation}) {seconds:.2f} s")
    (r2, (e2, t2)), (r3, (e3, t3)) = list(staircase.items())[-2:]
    p = np.log(e2 / e3) / np.log(r3 / r2)
    q = np.log(t3 / t2) / np.log(r3 / r2)
    target, lbm_seconds = abs(subvoxel[1][0] / reference - 1), subvoxel[1][1]
    needed = r3 * (e3 / target) ** (1 / p)
    seconds = t3 * (needed / r3) ** q
    print(
        f"  TauFactor needs ~{needed:.1f}x refinement for the sub-voxel LBM's {target:.2%}"
        f" (error ~ factor^-{p:.2f}, time ~ factor^{q:.2f}): ~{seconds:.0f} s,"
        f" {seconds / lbm_seconds:.0f}x the LBM's {lbm_seconds:.2f} s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    parser.add_argument("--bandwidth", type=float, default=None, help="nominal GB/s")
    parser.add_argument("--no-taufactor", action="store_true")
    parser.add_argument(
        "--equal-accuracy", type=int, metavar="N", help="only the equal-accuracy comparison"
    )
    args = parser.parse_args()
    backend.init_backend(args.arch)
    if args.equal_accuracy:
        bench_equal_accuracy(args.equal_accuracy, args.arch)
        return
    sizes = args.sizes or ([64, 96] if args.arch == "cpu" else [192, 576])
    nominal = args.bandwidth or (20.0 if args.arch == "cpu" else 3350.0)
    for size in sizes:
        axes = (0,) if size > 400 else (0, 1, 2)
        for interface in ("voxel",) if size > 400 else ("voxel", "subvoxel"):
            bench_lbm(size, axes, interface, args.arch, "periodic", nominal)
        if not args.no_taufactor and size <= 192:
            seconds = bench_lbm(size, axes, "voxel", args.arch, "zero_flux", nominal)
            bench_taufactor(size, axes, args.arch, seconds)


if __name__ == "__main__":
    main()
