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
"""

import argparse
import importlib
import os
import sys
import time
import types

import numpy as np
import taichi as ti

from spinodoid import lbm
from spinodoid.structure import level_set

THETA_HAT_1 = (0.092, 0.135, 0.245, 0.666)  # the paper's case-1 design (SPEC §5)
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


def import_taufactor():
    """Import taufactor, registering stand-ins for its notebook-only imports if missing."""
    for _ in range(3):
        try:
            return importlib.import_module("taufactor")
        except ModuleNotFoundError as error:
            if error.name not in ("IPython", "IPython.display", "pyvista"):
                raise
            ipython = types.ModuleType("IPython")
            ipython.display = types.ModuleType("IPython.display")
            ipython.display.clear_output = lambda wait=False: None
            sys.modules.setdefault("IPython", ipython)
            sys.modules.setdefault("IPython.display", ipython.display)
            sys.modules.setdefault("pyvista", types.ModuleType("pyvista"))
    return importlib.import_module("taufactor")


def bench_taufactor(size: int, axes, arch: str, lbm_seconds: float) -> None:
    """TauFactor on the same voxels and device; prints its time and the LBM/TauFactor ratio."""
    try:
        taufactor = import_taufactor()
    except ImportError as error:
        print(f"  TauFactor not importable ({error}); no comparison")
        return
    solid, _ = structure_batch(size, axes)
    device = "cuda" if arch == "cuda" else "cpu"
    t0 = time.perf_counter()
    taus = []
    for pore in solid == 0:
        solver = taufactor.Solver(pore.astype(np.float32), device=device)
        solver.solve(verbose=False, conv_crit=1e-4, iter_limit=100_000)
        taus.append(float(np.asarray(solver.tau).ravel()[0]))
    seconds = time.perf_counter() - t0
    eta = [float(1 - s.mean()) / t for s, t in zip(solid, taus, strict=True)]
    print(
        f"  TauFactor {device} (conv_crit 1e-4): eta {np.round(eta, 4)} {seconds:.2f} s;"
        f" LBM/TauFactor time ratio {lbm_seconds / seconds:.3f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    parser.add_argument("--bandwidth", type=float, default=None, help="nominal GB/s")
    parser.add_argument("--no-taufactor", action="store_true")
    args = parser.parse_args()
    lbm.init_backend(args.arch)
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
