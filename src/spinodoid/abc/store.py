"""The generation files of an ABC-PMC run: write, read and resume.

With ``out_dir`` set, each completed generation ``t`` is written to ``out_dir`` as

- ``gen_{t:03d}.csv``: one row per particle, columns ``<param names>`` (``a_x, a_y, a_z, eps``
  for the spinodoid prior), ``weight`` (normalised, sums to 1) and ``rho`` (eq. 10, percent);
  floats written with 17 significant digits so they read back bit for bit.
- ``gen_{t:03d}.json``: ``generation``, ``tolerance`` (percent), ``evaluations`` (this
  generation), ``evaluations_total`` (cumulative, pilot included), ``passed`` (candidates with
  ρ ≤ τ), ``acceptance_rate`` (= passed / evaluations), ``components_simulated`` (η
  components computed, k per evaluation unless pruned), ``proposals_outside_support``,
  ``wall_time_s`` (this generation), ``wall_time_total_s``, ``nu`` (proposal std per
  parameter, null for generation 0), ``ess`` (1 / Σ w²), ``param_names``, ``signature`` (the
  run settings) and ``rng_state`` (the generator state after the generation).

The JSON is written after the CSV and marks the generation complete. A run given the same
``out_dir`` and the same settings (signature) restarts after the last complete generation and
gives the same result as an uninterrupted run; files of a run with other settings are removed.
The report's posterior-marginal figures read these files (:func:`read_generations`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spinodoid.abc.results import Generation
from spinodoid.formats.atomic import write_text_atomic

__all__ = ["generation_stats", "read_generations", "resume", "write_generation"]

logger = logging.getLogger(__name__)


def _gen_paths(out_dir: Path, index: int) -> tuple[Path, Path]:
    return out_dir / f"gen_{index:03d}.csv", out_dir / f"gen_{index:03d}.json"


#: The bookkeeping columns of a generation (:func:`generation_stats`), in order.
STAT_COLUMNS: tuple[str, ...] = (
    "generation",
    "tolerance",
    "evaluations",
    "evaluations_total",
    "passed",
    "acceptance_rate",
    "components_simulated",
    "proposals_outside_support",
    "rejected",
    "wall_time_s",
    "wall_time_total_s",
    "ess",
)


#: Columns of :data:`STAT_COLUMNS` whose :class:`Generation` attribute has another name.
_STAT_ATTRIBUTES = {"generation": "index"}


def generation_stats(gen: Generation) -> dict[str, Any]:
    """Bookkeeping of one generation shared by its JSON file and the generations.csv row: the
    :data:`STAT_COLUMNS`, in order."""
    return {column: getattr(gen, _STAT_ATTRIBUTES.get(column, column)) for column in STAT_COLUMNS}


def write_generation(
    out_dir: Path, gen: Generation, names: Sequence[str], signature: Mapping[str, Any]
) -> None:
    """Write ``gen_{t:03d}.csv`` then ``gen_{t:03d}.json`` (the format in the module docstring)."""
    csv_path, json_path = _gen_paths(out_dir, gen.index)
    frame = pd.DataFrame(gen.theta, columns=list(names))
    frame["weight"] = gen.weights
    frame["rho"] = gen.rho
    write_text_atomic(csv_path, frame.to_csv(index=False, float_format="%.17g"))
    meta = {
        **generation_stats(gen),
        "nu": None if gen.nu is None else gen.nu.tolist(),
        "param_names": list(names),
        "signature": dict(signature),
        "rng_state": gen.rng_state,
    }
    write_text_atomic(json_path, json.dumps(meta, indent=1))


def _read_generation(csv_path: Path, json_path: Path) -> tuple[Generation, dict[str, Any]]:
    """Read one generation's files; returns the generation and its JSON metadata."""
    meta = json.loads(json_path.read_text())
    names = meta["param_names"]
    header = csv_path.read_text().partition("\n")[0].split(",")
    table = np.loadtxt(csv_path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    frame = dict(zip(header, table.T, strict=True))
    gen = Generation(
        index=int(meta["generation"]),
        tolerance=float(meta["tolerance"]),
        theta=np.ascontiguousarray(np.column_stack([frame[n] for n in names])),
        weights=np.ascontiguousarray(frame["weight"]),
        rho=np.ascontiguousarray(frame["rho"]),
        evaluations=int(meta["evaluations"]),
        evaluations_total=int(meta["evaluations_total"]),
        passed=int(meta["passed"]),
        # files written before pruning existed: every component of every evaluation
        components_simulated=int(
            meta.get(
                "components_simulated",
                int(meta["evaluations"]) * len(meta["signature"]["target"]),
            )
        ),
        proposals_outside_support=int(meta["proposals_outside_support"]),
        wall_time_s=float(meta["wall_time_s"]),
        wall_time_total_s=float(meta["wall_time_total_s"]),
        nu=None if meta["nu"] is None else np.asarray(meta["nu"], dtype=np.float64),
        rng_state=meta["rng_state"],
        rejected=int(meta.get("rejected", 0)),  # files written before the acceptance rule
    )
    return gen, meta


def read_generations(out_dir: str | Path) -> list[Generation]:
    """Read the consecutive complete generations ``gen_000 …`` written by :func:`abc_pmc`.

    Args:
        out_dir: the generation directory.

    Returns:
        The generations in order (empty if none).
    """
    out_dir = Path(out_dir)
    gens: list[Generation] = []
    while True:
        csv_path, json_path = _gen_paths(out_dir, len(gens))
        if not (csv_path.exists() and json_path.exists()):
            return gens
        gens.append(_read_generation(csv_path, json_path)[0])


def resume(out_dir: Path, signature: Mapping[str, Any]) -> list[Generation]:
    """Generations of a previous run with the same signature; stale files are removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gens: list[Generation] = []
    while True:
        csv_path, json_path = _gen_paths(out_dir, len(gens))
        if not (csv_path.exists() and json_path.exists()):
            break
        gen, meta = _read_generation(csv_path, json_path)
        if meta["signature"] != json.loads(json.dumps(dict(signature))):
            logger.warning(
                "generation files in %s are from other settings; starting afresh", out_dir
            )
            gens = []
            break
        gens.append(gen)
    for stale in sorted(out_dir.glob("gen_*.*")):
        if int(stale.stem.split("_")[1]) >= len(gens):
            stale.unlink()
    if gens:
        logger.info("resuming after generation %d from %s", gens[-1].index, out_dir)
    return gens
