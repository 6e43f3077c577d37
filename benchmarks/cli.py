"""Benchmark: the ``spinodoid`` command line as whole commands, against plain numpy in one run.

Times, as fresh processes (interpreter start and imports included, the way a user meets them):

- ``spinodoid --help`` (target ≤ 0.5 s: the parser imports no subcommand library);
- ``spinodoid generate --size N`` writing a .npy (target ≤ 1.5 × the baseline);
- the baseline: a plain numpy script that generates the same kind of field (float32 white
  noise, FFT filter of eq. 3, ε-quantile threshold by ``np.partition``) and saves it as .npy.

Each command runs ``--repeats`` times after one warm-up, the commands taking turns; the median
is reported with its ratio to the baseline.
Usage: python benchmarks/cli.py [--size 192] [--repeats 5]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
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
