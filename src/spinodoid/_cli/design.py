"""``spinodoid design``: θ for a target η by ABC-PMC with the CNN (docs/method.md §5)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register", "run"]

#: Exit status when the evaluation budget stopped the run (outputs are still written).
EXIT_BUDGET = 3

_EPILOG = """\
example:
  spinodoid design --model results/model/best.pt --target 0.40 0.50 0.60 -o design/case1
  spinodoid design --model results/emulator/emulator.npz --target 0.40 0.50 0.60 -o design/e1

Writes DIR/posterior.csv (one row per particle: a_x, a_y, a_z, eps, weight, rho),
DIR/theta_hat.json (the posterior mean θ̂ and run statistics), DIR/generations.csv
(one row per generation) and DIR/generations/gen_*.{csv,json}. Rerunning with the
same settings and DIR resumes after the last complete generation.

Exit status: 0 done (with --schedule adaptive possibly at the tolerance floor: the status
"tolerance_floor" and a message say how close the target can be reached); 2 refused (a target
outside (0, 1) or outside what the prior produces); 3 the evaluation budget ran out (the best
particles so far are written).
"""


def register(subparsers: Any) -> None:
    """Add the ``design`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "design",
        help="find theta for a target eta (ABC-PMC with the CNN)",
        description="Inverse design: sample the posterior of theta = (a_x, a_y, a_z, eps) given "
        "a target diffusivity (eta_x, eta_y, eta_z) with batched ABC-PMC (Röding et al. 2022).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="FILE",
        help="CNN checkpoint (best.pt), or an emulator of eta(theta) (emulator.npz): designs a "
        "target in seconds once a dataset exists",
    )
    parser.add_argument(
        "--target",
        nargs=3,
        type=float,
        required=True,
        metavar=("EX", "EY", "EZ"),
        help="target eta along x, y, z, each in (0, 1)",
    )
    parser.add_argument("--particles", type=int, default=512, help="population size (512)")
    parser.add_argument("-o", "--output", default="design", metavar="DIR", help="default: design")
    parser.add_argument(
        "--log10-tolerances",
        nargs="+",
        type=float,
        metavar="L",
        default=[2.0, 1.75, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25, 0.0],
        help="log10 of the tolerances on rho in percent (default: 2 1.75 ... 0)",
    )
    parser.add_argument(
        "--schedule",
        choices=("fixed", "adaptive"),
        default="fixed",
        help="fixed: the tolerances above; adaptive: median rho down to the last one",
    )
    parser.add_argument(
        "--min-tolerance-decrease",
        type=float,
        default=0.005,
        metavar="F",
        help="adaptive: stop at the tolerance floor when the next tolerance is less than this "
        "fraction below the last (default 0.005)",
    )
    parser.add_argument("--batch-size", type=int, default=256, help="candidates per batch (256)")
    parser.add_argument("--max-evaluations", type=int, default=5_000_000, help="budget (5e6)")
    parser.add_argument(
        "--pilot-size",
        type=int,
        default=None,
        metavar="M",
        help="prior draws of the reachability check (default max(P, 64); 0: no check)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
        default="fp32",
        help="the CNN's precision (default fp32; bf16/fp16 autocast for speed on CUDA)",
    )
    parser.add_argument(
        "--kernel",
        choices=("componentwise", "correlated"),
        default="componentwise",
        help="ABC-PMC perturbation kernel: componentwise (the paper's, default) or correlated "
        "(2 x the weighted covariance; fewer evaluations, the same posterior)",
    )
    parser.add_argument("--log-a", action="store_true", help="perturb a_x, a_y, a_z in log")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the design, print θ̂ as JSON on stdout; exit status 0, or 3 on budget stop."""
    from spinodoid.abc import PARAM_NAMES, run_design

    result = run_design(
        args.model,
        args.target,
        args.output,
        particles=args.particles,
        log10_tolerances=args.log10_tolerances,
        tolerance_schedule=args.schedule,
        min_tolerance_decrease=args.min_tolerance_decrease,
        batch_size=args.batch_size,
        max_evaluations=args.max_evaluations,
        device=args.device,
        seed=args.seed,
        name="cli",
        pilot_size=args.pilot_size,
        precision=args.precision,
        kernel=args.kernel,
        kernel_log_a=args.log_a,
        progress=not args.quiet,
    )
    theta_hat = dict(zip(PARAM_NAMES, result.posterior_mean().tolist(), strict=True))
    summary = {**theta_hat, "status": result.status, "evaluations": result.evaluations}
    print(json.dumps(summary))
    if result.status != "completed":
        print(f"spinodoid design: {result.message}", file=sys.stderr)
    return EXIT_BUDGET if result.status == "budget_exhausted" else 0
