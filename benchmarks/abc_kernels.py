"""Benchmark: ABC-PMC perturbation kernels on the emulator, the paper's two targets.

For each target, kernel (``componentwise``, the paper's; ``correlated``; each with and without
log a) and seed, runs the design of ``spinodoid.abc.run_design`` with an emulator file
(``results/emulator/emulator.npz`` of any run) down to the paper's nine tolerances, and prints
what the kernel changes: the evaluations to reach the last tolerance (or the budget reached),
the proposals redrawn outside the prior's support, the effective sample size of the final
population, the wall time and the posterior mean θ̂. The posterior is the same for every
kernel (the weights are exact); only the cost of reaching it differs.

Usage: python benchmarks/abc_kernels.py --emulator results/emulator/emulator.npz
       [--seeds 0 1 2] [--budget 2000000]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile

from spinodoid.abc import run_design

TARGETS = {"case1": (0.40, 0.50, 0.60), "case2": (0.25, 0.375, 0.50)}
KERNELS = (
    ("componentwise", False),
    ("componentwise", True),
    ("correlated", False),
    ("correlated", True),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=2_000_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print(f"{'target':6s} {'kernel':14s} {'log a':5s} {'completed':>9s} {'evaluations':>12s} "
          f"{'redrawn':>10s} {'ESS':>6s} {'s':>6s}  theta_hat (seed {args.seeds[0]})")  # fmt: skip
    for name, target in TARGETS.items():
        for kernel, log_a in KERNELS:
            runs = []
            for seed in args.seeds:
                with tempfile.TemporaryDirectory() as out:
                    result = run_design(
                        args.emulator, target, out, max_evaluations=args.budget, seed=seed,
                        kernel=kernel, kernel_log_a=log_a, progress=False, name=name,
                    )  # fmt: skip
                gens = result.generations
                runs.append(
                    (
                        result.status == "completed",
                        result.evaluations,
                        sum(g.proposals_outside_support for g in gens),
                        gens[-1].ess,
                        result.wall_time_s,
                        gens[-1].weights @ gens[-1].theta,
                    )
                )
            done = sum(r[0] for r in runs)
            theta = " ".join(f"{v:.4f}" for v in runs[0][5])
            print(
                f"{name:6s} {kernel:14s} {str(log_a):5s} {done:>5d}/{len(runs):<3d} "
                f"{statistics.median(r[1] for r in runs):12.0f} "
                f"{statistics.median(r[2] for r in runs):10.0f} "
                f"{statistics.median(r[3] for r in runs):6.0f} "
                f"{statistics.median(r[4] for r in runs):6.1f}  {theta}"
            )


if __name__ == "__main__":
    main()
