"""Benchmark: the ``spinodoid`` command line as whole commands, against plain numpy in one run.

Times, as fresh processes (interpreter start and imports included, the way a user meets them):

- ``spinodoid --help`` (target ≤ 0.5 s: the parser imports no subcommand library);
- ``spinodoid generate --size N`` writing a .npy (target ≤ 1.5 × the baseline);
- the baseline: a plain numpy script that generates the same kind of field (float32 white
  noise, FFT filter of eq. 3, ε-quantile threshold by ``np.partition``) and saves it as .npy.

Each command runs ``--repeats`` times after one warm-up, the commands taking turns; the median
is reported with its ratio to the baseline.

``--diffusivity``: ``spinodoid diffusivity FILE --json`` (its default solver, multigrid, with
periodic and with zero-flux sides; and ``--solver lbm``), x, y and z in one new process per
run, against a whole TauFactor script (start, import, solve) on the same voxels (θ̂₁ with
a·192/N, seed 1, N = ``--size``) in the same run, all threads of the machine. Printed: the
solver's own seconds (the JSON's ``seconds``, summed over x, y, z; TauFactor's solve) and the
whole command's wall time, medians, with the ratios TauFactor / spinodoid. The warm-up run also
fills taichi's offline kernel cache, as any earlier run on the machine would have.

``--first-call SIZE …``: per size, a new process solves x, y, z twice by multigrid (sub-voxel,
periodic, the pipeline's problem): the first pass is the first call at that grid size, the
second the warm one; seconds per direction of both.

Usage: python benchmarks/cli.py [--size 192] [--repeats 5]
       python benchmarks/cli.py --diffusivity [--size 96] [--repeats 3]
       python benchmarks/cli.py --first-call 64 96 192
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THETA = ("0.092", "0.135", "0.245", "0.666")

BASELINE = """
import sys
import numpy as np
a = [float(v) for v in sys.argv[1:4]]
eps, size, out = float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
noise = np.random.default_rng(0).standard_normal((size,) * 3, dtype=np.float32)
q = np.fft.fftfreq(size, d=1.0 / size)
h = np.fft.rfftfreq(size, d=1.0 / size)
s = (a[0] * q[:, None, None]) ** 2 + (a[1] * q[None, :, None]) ** 2
s = s + (a[2] * h[None, None, :]) ** 2
field = np.fft.irfftn(np.fft.rfftn(noise) / (1.0 + s**4), s=(size,) * 3).astype(np.float32)
rank = int(round(eps * field.size))
threshold = np.partition(field.reshape(-1), rank)[rank]
np.save(out, (field >= threshold).view(np.uint8))
"""


TAUFACTOR = """
import json, sys
sys.path.insert(0, sys.argv[2])
import numpy as np
from taufactor_baseline import taufactor_eta
voxels = np.load(sys.argv[1])
eta, seconds = {}, {}
for axis, name in enumerate("xyz"):
    eta[name], seconds[name] = taufactor_eta(np.moveaxis(voxels == 0, axis, 0), "cpu")
print(json.dumps({"eta": eta, "seconds": seconds}))
"""

FIRST_CALL = """
import json, sys, time
import numpy as np
from spinodoid.solvers.backend import init_backend
from spinodoid.solvers.diffusivity import effective_diffusivity
from spinodoid.structures.grf import level_set
size = int(sys.argv[1])
theta = np.array([0.092, 0.135, 0.245, 0.666])
theta[:3] *= 192 / size
psi = level_set(theta, 1, size)
voxels = (psi >= 0).view(np.uint8)
init_backend("cpu")
passes = []
for _ in range(2):
    passes.append([
        effective_diffusivity(voxels, axis, solver="multigrid", interface="subvoxel",
                              level_set=psi).seconds
        for axis in range(3)
    ])
print(json.dumps(passes))
"""


def seconds(command: list[str], env: dict[str, str]) -> float:
    """Wall time of ``command`` as a fresh process."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def median_seconds(
    commands: dict[str, list[str]], repeats: int, env: dict[str, str]
) -> dict[str, float]:
    """Median wall time per command; the commands take turns, so load hits them alike."""
    for command in commands.values():  # warm-up: file caches, byte-compiled modules
        seconds(command, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(seconds(command, env))
    return {name: statistics.median(values) for name, values in times.items()}


def timed_json(command: list[str]) -> tuple[float, dict]:
    """Wall time of ``command`` as a fresh process, and the JSON object it prints last."""
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, json.loads(done.stdout.strip().splitlines()[-1])


def diffusivity_benchmark(size: int, repeats: int) -> None:
    """``spinodoid diffusivity`` against a TauFactor script, cold processes (module docstring)."""
    spinodoid = [sys.executable, "-m", "spinodoid.cli", "diffusivity"]
    with tempfile.TemporaryDirectory() as tmp:
        voxels = str(Path(tmp) / "s.npy")
        a = [str(float(v) * 192 / size) for v in THETA[:3]]
        subprocess.run(
            [*spinodoid[:-1], "generate", "--theta", *a, THETA[3], "--seed", "1",
             "--size", str(size), "-o", voxels],
            check=True, capture_output=True,
        )  # fmt: skip
        commands = {
            "spinodoid diffusivity (multigrid, periodic)": [*spinodoid, voxels, "--json"],
            "spinodoid diffusivity (multigrid, zero-flux)": [
                *spinodoid, voxels, "--json", "--lateral", "zero_flux"
            ],
            "spinodoid diffusivity --solver lbm (zero-flux)": [
                *spinodoid, voxels, "--json", "--lateral", "zero_flux", "--solver", "lbm"
            ],
            "TauFactor script (zero-flux)": [
                sys.executable, "-c", TAUFACTOR, voxels, str(Path(__file__).parent)
            ],
        }  # fmt: skip
        for command in commands.values():  # warm-up: file caches, taichi's offline cache
            timed_json(command)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        solves: dict[str, list[float]] = {name: [] for name in commands}
        etas: dict[str, dict] = {}
        for _ in range(repeats):
            for name, command in commands.items():
                wall, out = timed_json(command)
                walls[name].append(wall)
                solves[name].append(sum(out["seconds"].values()))
                etas[name] = out["eta"]
    wall = {name: statistics.median(v) for name, v in walls.items()}
    solve = {name: statistics.median(v) for name, v in solves.items()}
    tf = "TauFactor script (zero-flux)"
    print(f"N = {size}, three directions, median of {repeats} cold runs, load {os.getloadavg()}")
    print(f"{'command':48s} {'solve s':>8s} {'TF/this':>8s} {'wall s':>8s} {'TF/this':>8s}  eta")
    for name in commands:
        eta = " ".join(f"{e:.5f}" for e in etas[name].values())
        print(
            f"{name:48s} {solve[name]:8.2f} {solve[tf] / solve[name]:8.2f} "
            f"{wall[name]:8.2f} {wall[tf] / wall[name]:8.2f}  {eta}"
        )


def first_call_benchmark(sizes: list[int]) -> None:
    """First-call against warm seconds per direction, a new process per size."""
    print("multigrid, sub-voxel, periodic; seconds per direction x / y / z")
    print(f"{'N':>4s}  {'first call':>20s}  {'warm':>20s}  {'first - warm (sum)':>18s}")
    for size in sizes:
        _, (first, warm) = timed_json([sys.executable, "-c", FIRST_CALL, str(size)])
        fmt = " / ".join(f"{t:.2f}" for t in first), " / ".join(f"{t:.2f}" for t in warm)
        print(f"{size:4d}  {fmt[0]:>20s}  {fmt[1]:>20s}  {sum(first) - sum(warm):18.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=None, help="default 192; 96 --diffusivity")
    parser.add_argument("--repeats", type=int, default=None, help="default 5; 3 --diffusivity")
    parser.add_argument("--diffusivity", action="store_true")
    parser.add_argument("--first-call", type=int, nargs="+", metavar="SIZE")
    args = parser.parse_args()
    if args.diffusivity:
        diffusivity_benchmark(args.size or 96, args.repeats or 3)
        return
    if args.first_call:
        first_call_benchmark(args.first_call)
        return
    args.size, args.repeats = args.size or 192, args.repeats or 5
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    spinodoid = [sys.executable, "-m", "spinodoid.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "s.npy")
        size = str(args.size)
        rows = {
            "numpy script (baseline)": [sys.executable, "-c", BASELINE, *THETA, size, out],
            "spinodoid --help": [*spinodoid, "--help"],
            "spinodoid generate --help": [*spinodoid, "generate", "--help"],
            f"spinodoid generate --size {size}": [
                *spinodoid, "generate", "--theta", *THETA, "--seed", "0", "--size", size, "-o", out
            ],
        }  # fmt: skip
        medians = median_seconds(rows, args.repeats, env)
    base = medians["numpy script (baseline)"]
    print(f"N = {args.size}, median of {args.repeats} runs, one thread")
    print(f"{'command':36s} {'seconds':>8s} {'/ baseline':>10s}")
    for name, value in medians.items():
        print(f"{name:36s} {value:8.3f} {value / base:10.2f}")


if __name__ == "__main__":
    main()
