"""The design's discretisation error: a validation structure's single solve against its
extrapolation to zero cell size (``simulate.extrapolate``, docs/lbm.md "Extrapolated η").

For each target of a finished run, the first ``--structures`` accepted validation structures
(results/validate/{target}.csv) are regenerated from θ̂ and their seeds, solved again along x, y
and z with the run's solver at the sub-voxel refinement and twice it, and the second-order
extrapolation is set beside the run's single solve, with the target.

Usage: python benchmarks/design_error.py --config config/paper-cpu.yaml --results results
       [--structures 1] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from spinodoid import AXES
from spinodoid.abc import read_theta_hat
from spinodoid.solvers.backend import init_backend
from spinodoid.solvers.plan import SolverSettings
from spinodoid.validation import make_solver, measure_structure

ETA = [f"eta_solver_{axis}" for axis in AXES]


def design_error(config: dict, results: Path, target: dict, structures: int) -> list[dict]:
    """Rows (target, seed, axis, single, extrapolated, target η, seconds) of one target."""
    theta = read_theta_hat(results / "design" / target["name"] / "theta_hat.json")
    table = pd.read_csv(results / "validate" / f"{target['name']}.csv")
    settings = SolverSettings.from_config({**config["simulate"], "extrapolate": True})
    solve = make_solver(settings)
    rows = []
    for _, single in table.head(structures).iterrows():
        row = measure_structure(theta, int(single["seed"]), config["size"], solve, None, None)
        for k, axis in enumerate(AXES):
            rows.append(
                {
                    "target": target["name"],
                    "seed": int(single["seed"]),
                    "axis": axis,
                    "eta_target": target["eta"][k],
                    "eta_single": float(single[ETA[k]]),
                    "eta_extrapolated": float(row[ETA[k]]),
                    "seconds": round(row["solver_seconds"], 1),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--structures", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    init_backend(config["simulate"]["arch"], cpu_threads=args.threads)
    rows = []
    for target in config["targets"]:
        rows += design_error(config, args.results, target, args.structures)
    frame = pd.DataFrame(rows)
    frame["single_vs_extrapolated_%"] = 100 * (frame.eta_single / frame.eta_extrapolated - 1)
    frame["extrapolated_vs_target_%"] = 100 * (frame.eta_extrapolated / frame.eta_target - 1)
    print(
        f"N = {config['size']}, {config['simulate']['solver']}, sub-voxel refinement "
        f"{config['simulate']['subvoxel_refine']} and {2 * config['simulate']['subvoxel_refine']}"
    )
    print(frame.round(4).to_string(index=False))
    mape = frame.groupby("target")["extrapolated_vs_target_%"].apply(lambda d: np.abs(d).mean())
    print("MAPE of the extrapolated η against the target (%):", mape.round(2).to_dict())
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
