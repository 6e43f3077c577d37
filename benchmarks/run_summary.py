"""Wall time per stage and solver calls of a finished pipeline run.

Reads the Snakemake benchmark files of a run (``benchmarks/{rule}/*.tsv`` in the run's
directory: one per job, its wall seconds in column ``s``) and counts the structures the solver
solved along x, y and z: the dataset's, every sequential round's (``results/rounds``), the
validations' and the upscaled ones.

Usage: python benchmarks/run_summary.py [--run DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from spinodoid.formats.dataset import split_labels
from spinodoid.rounds import read_round_solves

#: Pipeline stages (docs/method.md) and the rules in each.
STAGES = {
    "sample": ("sample", "rejection_stats", "figure_examples"),
    "simulate": ("simulate",),
    "assemble": ("assemble",),
    "emulate": ("emulate",),
    "train": ("train", "evaluate"),
    "rounds: design": ("round_design",),
    "rounds: solve": ("round_solve",),
    "rounds: emulate": ("round_emulate",),
    "design": ("design", "design_compare"),
    "validate": ("validate", "validate_compare", "check_spread"),
    "upscale": ("upscale",),
    "report": (
        "export",
        "figure_posterior",
        "figure_renders",
        "report_table1",
        "report_generations",
        "report_validation",
        "report_comparison",
        "check_designs",
    ),
}


def stage_seconds(run: Path) -> pd.DataFrame:
    """Jobs and summed wall seconds per stage, from the run's benchmark files."""
    rows = []
    for stage, rules in STAGES.items():
        files = [f for rule in rules for f in sorted((run / "benchmarks" / rule).glob("*.tsv"))]
        seconds = sum(float(pd.read_csv(f, sep="\t")["s"].iloc[0]) for f in files)
        if files:
            rows.append({"stage": stage, "jobs": len(files), "wall_s": round(seconds, 1)})
    return pd.DataFrame(rows)


def solver_calls(run: Path) -> pd.DataFrame:
    """Structures solved along x, y and z, by where the solves went."""
    results = run / "results"
    _, eta = split_labels(results / "dataset.zarr", ("train", "val", "test"))
    counts = {"dataset (prior draws)": len(eta)}
    for target in sorted(p.name for p in (results / "rounds").glob("*")):
        _, eta = read_round_solves(sorted((results / "rounds" / target).glob("round*/solves.csv")))
        counts[f"rounds: {target}"] = len(eta)
    for table in sorted((results / "validate").glob("*.csv")):
        if table.stem.endswith(("_summary", "_rejected")) or table.stem in ("summary",):
            continue
        counts[f"validate: {table.stem}"] = len(pd.read_csv(table))
    for table in sorted((results / "upscale").glob("*.csv")):
        if not table.stem.endswith(("_summary", "_rejected")):
            counts[f"upscale: {table.stem}"] = len(pd.read_csv(table))
    return pd.DataFrame({"solved at": list(counts), "structures": list(counts.values())})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path("."))
    args = parser.parse_args()
    stages = stage_seconds(args.run)
    print(stages.to_string(index=False))
    print(f"sum of job wall times: {stages.wall_s.sum() / 60:.1f} min")
    calls = solver_calls(args.run)
    print(calls.to_string(index=False))
    print(f"structures solved (x, y and z each): {calls.structures.sum()}")


if __name__ == "__main__":
    main()
