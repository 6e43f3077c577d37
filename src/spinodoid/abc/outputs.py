"""The outputs of a design run: posterior.csv, theta_hat.json and generations.csv.

- ``posterior.csv``: one row per particle, columns ``a_x, a_y, a_z, eps, weight, rho``.
- ``theta_hat.json``: ``{"a_x", "a_y", "a_z", "eps"}`` (the weighted posterior mean θ̂) plus
  run information, ``status``, ``message``, ``evaluations``, ``acceptance_rates``,
  ``tolerances``, ``final_tolerance``, ``wall_time_s``, ``ess``, ``posterior_std`` and
  ``posterior_quantiles`` (probabilities 0.05 … 0.95 → value per parameter).
- ``generations.csv``: one row per generation (tolerance, evaluations, acceptance rate,
  components simulated, wall time, ESS, weighted mean/std and ν of every parameter).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spinodoid.abc.results import PARAM_NAMES, ABCResult, weighted_mean_std
from spinodoid.abc.store import STAT_COLUMNS, generation_stats
from spinodoid.formats.atomic import write_text_atomic

__all__ = [
    "generations_table",
    "read_design_status",
    "read_posterior",
    "read_theta_hat",
    "write_design_outputs",
]


def _summary_frame(result: ABCResult) -> pd.DataFrame:
    """One row per generation (the generations.csv summary)."""
    rows = []
    for gen in result.generations:
        mean, std = weighted_mean_std(gen.theta, gen.weights)
        row: dict[str, Any] = generation_stats(gen)
        for j, p in enumerate(result.param_names):
            row[f"mean_{p}"] = mean[j]
            row[f"std_{p}"] = std[j]
            row[f"nu_{p}"] = math.nan if gen.nu is None else gen.nu[j]
        rows.append(row)
    per_param = [f"{kind}_{p}" for p in result.param_names for kind in ("mean", "std", "nu")]
    # the header stands even when the budget ran out inside generation 0 (no rows)
    return pd.DataFrame(rows, columns=[*STAT_COLUMNS, *per_param])


def generations_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The report's view of a generations.csv summary: one row per generation with τ (%),
    evaluations, acceptance rate, η components simulated per evaluation (CNN passes, 3 without
    pruning), the fraction of candidates rejected by the acceptance rule, ESS, wall time (s) and
    the weighted posterior mean of each parameter."""
    names = [c.removeprefix("mean_") for c in summary.columns if c.startswith("mean_")]
    table = pd.DataFrame(
        {
            "generation": summary["generation"],
            "tolerance (%)": summary["tolerance"],
            "evaluations": summary["evaluations"],
            "acceptance": summary["acceptance_rate"],
            "passes / evaluation": summary["components_simulated"] / summary["evaluations"],
            "rejected": summary["rejected"] / summary["evaluations"],
            "ESS": summary["ess"],
            "wall time (s)": summary["wall_time_s"],
        }
    )
    for name in names:
        table[f"mean {name}"] = summary[f"mean_{name}"]
    return table


def _theta_hat_dict(result: ABCResult, info: Mapping[str, Any]) -> dict[str, Any]:
    """Contents of theta_hat.json: θ̂ by name, then run statistics."""
    names = result.param_names
    probs = (0.05, 0.25, 0.5, 0.75, 0.95)
    quant = result.quantiles(probs)
    gens = result.generations
    return {
        **{p: float(v) for p, v in zip(names, result.posterior_mean(), strict=True)},
        **dict(info),
        "target_eta": result.target.tolist(),
        "status": result.status,
        "message": result.message,
        "particles": len(result.theta),
        "generations": len(gens),
        "evaluations": result.evaluations,
        "evaluations_per_generation": [g.evaluations for g in gens],
        "tolerances": [g.tolerance for g in gens],
        "final_tolerance": result.final_tolerance if gens else None,
        "acceptance_rates": [g.acceptance_rate for g in gens],
        "wall_time_s": result.wall_time_s,
        "evaluations_per_second": result.evaluations / max(result.wall_time_s, 1e-9),
        "ess": float(1.0 / np.sum(result.weights**2)),
        "posterior_std": {p: float(v) for p, v in zip(names, result.posterior_std(), strict=True)},
        "posterior_quantiles": {
            f"{q:g}": {p: float(quant[i, j]) for j, p in enumerate(names)}
            for i, q in enumerate(probs)
        },
    }


def write_design_outputs(
    result: ABCResult, out_dir: str | Path, info: Mapping[str, Any] | None = None
) -> None:
    """Write posterior.csv, theta_hat.json and generations.csv to ``out_dir`` (temp + rename).

    - ``posterior.csv``: one row per particle, columns ``a_x, a_y, a_z, eps, weight, rho``.
    - ``theta_hat.json``: ``{"a_x", "a_y", "a_z", "eps"}`` (the weighted posterior mean) plus
      ``info``, ``status``, ``message``, ``evaluations``, ``acceptance_rates``, ``tolerances``,
      ``final_tolerance``, ``wall_time_s``, ``ess``, ``posterior_std`` and
      ``posterior_quantiles`` (probabilities 0.05 … 0.95 → value per parameter).
    - ``generations.csv``: one row per generation (tolerance, evaluations, acceptance rate,
      components simulated, wall time, ESS, weighted mean/std and ν of every parameter).

    Args:
        result: the run's result.
        out_dir: existing or new directory.
        info: extra JSON-able keys for theta_hat.json (e.g. target name, seed, model).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(result.theta, columns=list(result.param_names))
    frame["weight"] = result.weights
    frame["rho"] = result.rho
    write_text_atomic(out / "posterior.csv", frame.to_csv(index=False, float_format="%.17g"))
    summary = _summary_frame(result)
    write_text_atomic(out / "generations.csv", summary.to_csv(index=False, float_format="%.10g"))
    theta_hat = _theta_hat_dict(result, info or {})
    write_text_atomic(out / "theta_hat.json", json.dumps(theta_hat, indent=1))


def read_posterior(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """The particles of a design's posterior.csv: θ float64 (P, 4) and normalised weights (P,)."""
    frame = pd.read_csv(path)
    weights = frame["weight"].to_numpy(dtype=np.float64)
    return frame[list(PARAM_NAMES)].to_numpy(dtype=np.float64), weights / weights.sum()


def read_theta_hat(path: str | os.PathLike[str]) -> np.ndarray:
    """θ̂ = (a_x, a_y, a_z, eps) from a design's theta_hat.json, float64 (4,)."""
    with open(path, encoding="utf-8") as handle:
        values = json.load(handle)
    return np.array([values[key] for key in PARAM_NAMES], dtype=np.float64)


def read_design_status(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``status`` (``"completed"``, ``"budget_exhausted"`` or ``"tolerance_floor"``),
    ``message`` and ``final_tolerance`` (percent) of a design's theta_hat.json."""
    with open(path, encoding="utf-8") as handle:
        values = json.load(handle)
    return {key: values.get(key) for key in ("status", "message", "final_tolerance")}
