"""Validation of designed θ̂ by the solver and the CNN, and upscaling (docs/method.md §6).

*Validation* generates ``K`` structures at the posterior mean θ̂ with fresh seeds (paper:
``K = 250``) and computes η along x, y and z with the solver and with the CNN (paper Figs. 8–9).
*Upscaling* generates ``M`` structures of side ``N·factor`` with the length scales divided by
``factor`` (paper: ``M = 10`` at ``576 = 3·192``), which keeps the voxel size and grows the domain
``factor``-fold (docs/method.md §1); only the solver applies there, the CNN being tied to N.

Seeds are derived from the master seed, the target name, a stream name (``"validate"``,
``"upscale"`` or ``"export"``) and the structure index, so they never coincide with the
dataset's or the design run's seeds by construction of the stream (a coincidence of 32-bit
values is possible but immaterial: a seed only picks a noise field). The solver's settings and
the memory plan live in :mod:`spinodoid.solvers.plan`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from spinodoid import AXES
from spinodoid.formats.atomic import atomic_write, write_text_atomic
from spinodoid.solvers.diffusivity import effective_diffusivity
from spinodoid.solvers.plan import SolverSettings, check_memory
from spinodoid.structures.connectivity import is_bicontinuous
from spinodoid.structures.grf import level_set as grf_level_set

__all__ = [
    "PAPER_RESULTS",
    "EtaSolver",
    "derived_seeds",
    "upscaled_size",
    "upscaled_theta",
    "make_solver",
    "solver_eta",
    "cnn_eta",
    "NotEnoughStructuresError",
    "ResumableRows",
    "accepted_rows",
    "rejected_rows",
    "measure_structure",
    "validate_structures",
    "upscale_structures",
    "summarize",
    "spread_table",
    "paper_results_for",
    "IncompleteDesignError",
    "design_status_table",
    "write_table",
    "combined_table",
    "comparison_table",
]

log = logging.getLogger(__name__)

_SEED_STREAMS = {"validate": 1, "upscale": 2, "export": 3, "round": 4}

#: The paper (docs/method.md §6): targets, θ̂ and the mean η at θ̂ by CNN and LBM (250
#: structures, N = 192)
#: and by LBM after upscaling (10 structures, N = 576, every std < 0.003).
PAPER_RESULTS: dict[str, dict[str, tuple[float, ...]]] = {
    "case1": {
        "target": (0.40, 0.50, 0.60),
        "theta_hat": (0.092, 0.135, 0.245, 0.666),
        "cnn": (0.401, 0.499, 0.599),
        "solver": (0.400, 0.498, 0.598),
        "upscale": (0.393, 0.494, 0.595),
    },
    "case2": {
        "target": (0.25, 0.375, 0.50),
        "theta_hat": (0.098, 0.151, 0.284, 0.572),
        "cnn": (0.264, 0.374, 0.490),
        "solver": (0.264, 0.372, 0.489),
        "upscale": (0.258, 0.366, 0.484),
    },
}

#: η of one structure along one axis: (voxels uint8 (N,N,N), level set float32 or None, axis).
EtaSolver = Callable[[np.ndarray, "np.ndarray | None", int], float]


def derived_seeds(base_seed: int, target_name: str, stream: str, count: int) -> np.ndarray:
    """Structure seeds for ``count`` structures of a target, int64 in [0, 2³²), shape (count,).

    A pure function of (master seed, target name, stream, index); ``stream`` is ``"validate"``,
    ``"upscale"``, ``"export"`` or ``"round"`` (:mod:`spinodoid.rounds`, whose target name
    carries the round), so they never share a seed sequence.
    """
    if stream not in _SEED_STREAMS:
        raise ValueError(f"unknown seed stream {stream!r}; use one of {sorted(_SEED_STREAMS)}")
    key = [int(base_seed), 0x5EED, _SEED_STREAMS[stream], zlib.crc32(target_name.encode())]
    state = np.random.SeedSequence(key).generate_state(count, dtype=np.uint32)
    return state.astype(np.int64)


def upscaled_size(size: int, factor: float) -> int:
    """``size·factor``, refused unless it is an even integer (the block counts need even N)."""
    scaled = size * factor
    if not math.isclose(scaled, round(scaled), abs_tol=1e-9) or round(scaled) % 2:
        raise ValueError(
            f"upscale: N x factor = {size} x {factor} = {scaled:g} must be an even integer"
        )
    return round(scaled)


def upscaled_theta(theta: Sequence[float], factor: float) -> np.ndarray:
    """θ with a_x, a_y, a_z divided by ``factor`` and ε kept, float64 (4,).

    a is in domain lengths (docs/method.md §1), so a/factor on a domain factor times larger keeps
    the
    features' size in voxels (paper: "the length scale parameters ... are divided by 3").
    """
    out = np.asarray(theta, dtype=np.float64).copy()
    out[:3] /= factor
    return out


def make_solver(settings: SolverSettings) -> EtaSolver:
    """An :data:`EtaSolver` calling :func:`spinodoid.solvers.diffusivity.effective_diffusivity`."""

    def solve(voxels: np.ndarray, level_set: np.ndarray | None, axis: int) -> float:
        result = effective_diffusivity(
            voxels,
            axis,
            solver=settings.solver,
            interface=settings.interface,
            level_set=level_set,
            arch=settings.arch,
            flux_change_tol=settings.flux_change_tol,
            flux_uniformity_tol=settings.flux_uniformity_tol,
            max_steps_per_voxel=settings.max_steps_per_voxel,
            subvoxel_refine=settings.subvoxel_refine,
            extrapolate=settings.extrapolate,
        )
        return float(result.eta)

    return solve


def solver_eta(voxels: np.ndarray, level_set: np.ndarray | None, solve: EtaSolver) -> np.ndarray:
    """(η_x, η_y, η_z) of one structure by ``solve``, float64 (3,)."""
    return np.array([solve(voxels, level_set, axis) for axis in range(3)], dtype=np.float64)


def cnn_eta(model, structures: np.ndarray, device=None) -> np.ndarray:
    """CNN (η_x, η_y, η_z) of structures uint8 (B, N, N, N), float64 (B, 3).

    ``model`` is a :class:`spinodoid.surrogates.cnn.SpinodoidCNN` trained on N³ structures.
    """
    import torch

    from spinodoid.surrogates.cnn import predict_eta_all_axes
    from spinodoid.surrogates.cnn_input import block_counts

    counts = torch.as_tensor(block_counts(structures))
    return predict_eta_all_axes(model, counts, device=device).double().cpu().numpy()


def _structure(theta: Sequence[float], seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(voxels uint8, level set float32) of one structure, shape (size,)*3."""
    psi = grf_level_set(theta, int(seed), size)
    return (psi >= 0).view(np.uint8), psi


def _eta_columns(prefix: str, eta: np.ndarray) -> dict[str, np.ndarray]:
    return {f"eta_{prefix}_{axis}": eta[:, k] for k, axis in enumerate(AXES)}


class ResumableRows:
    """The per-structure rows of one validation or upscaling job, kept as they finish.

    File format (JSON, rewritten through a temporary name and a rename after every structure, so
    a killed job leaves the last complete state): ``{"signature": {...}, "rows": [{...}, ...]}``.
    A file whose signature differs from the job's (another θ̂, size, solver or model) is ignored
    and overwritten, so a resumed job only reuses rows that the same job would have computed.
    Floats round-trip exactly (``json`` writes ``repr``; NaN as ``NaN``).
    """

    def __init__(self, path: str | os.PathLike[str], signature: Mapping[str, object]) -> None:
        self.path = Path(path)
        self.signature = json.loads(json.dumps(dict(signature)))
        self.rows: list[dict[str, object]] = []
        if self.path.exists():
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            if stored.get("signature") == self.signature:
                self.rows = list(stored["rows"])
                log.info("resuming from %d rows in %s", len(self.rows), self.path)
            else:
                log.info("%s holds another job's rows; starting over", self.path)

    def add(self, row: Mapping[str, object]) -> None:
        """Append one row and write the file atomically."""
        self.rows.append(dict(row))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps({"signature": self.signature, "rows": self.rows}))


class NotEnoughStructuresError(RuntimeError):
    """Fewer structures at θ passed the acceptance rule than the job needs."""


def measure_structure(
    theta: Sequence[float], seed: int, size: int, solve: EtaSolver, model, device
) -> dict[str, object]:
    """One row of :func:`validate_structures` for one candidate seed: ``seed``, ``porosity``,
    ``eta_solver_x/y/z`` (and ``eta_cnn_x/y/z`` with a model), ``solver_seconds`` and
    ``accepted`` (NaN η for a candidate the acceptance rule rejects)."""
    voxels, psi = _structure(theta, seed, size)
    row: dict[str, object] = {"seed": int(seed), "porosity": float(1.0 - voxels.mean())}
    accepted = is_bicontinuous(voxels)
    start = time.perf_counter()
    eta = solver_eta(voxels, psi, solve) if accepted else np.full(3, np.nan)
    seconds = time.perf_counter() - start
    row.update({f"eta_solver_{axis}": float(eta[k]) for k, axis in enumerate(AXES)})
    if model is not None:
        cnn = cnn_eta(model, voxels[None], device)[0] if accepted else np.full(3, np.nan)
        row.update({f"eta_cnn_{axis}": float(cnn[k]) for k, axis in enumerate(AXES)})
    if accepted:
        log.info("seed %d: solver η %s (%.1f s)", seed, np.round(eta, 4), seconds)
    else:
        log.info("seed %d: rejected (a phase does not percolate in x, y and z)", seed)
    return {**row, "solver_seconds": seconds, "accepted": bool(accepted)}


def validate_structures(
    theta: Sequence[float],
    seeds: Sequence[int],
    size: int,
    solve: EtaSolver,
    model=None,
    device=None,
    *,
    count: int | None = None,
    rows: ResumableRows | None = None,
) -> pd.DataFrame:
    """η by the solver (and the CNN when ``model`` is given) of structures at one θ.

    Every structure is drawn under the dataset's acceptance rule
    (:func:`spinodoid.structures.connectivity.is_bicontinuous`: pore and solid percolate in x, y
    and z).
    Candidate seeds are taken in order until ``count`` structures are accepted; a rejected
    candidate is kept as a row with ``accepted`` False and NaN η, so the table records it.

    Args:
        theta: (a_x, a_y, a_z, ε), the design θ̂.
        seeds: candidate structure seeds, in the order they are tried.
        size: structure side N (the CNN's training size when a model is given).
        solve: the solver, e.g. :func:`make_solver`.
        model: a trained :class:`spinodoid.surrogates.cnn.SpinodoidCNN` or None.
        device: torch device of the CNN.
        count: accepted structures wanted (default: one per seed).
        rows: where finished rows are kept; rows already there are reused, not recomputed.

    Returns:
        One row per candidate tried: ``seed``, ``porosity``, ``eta_solver_x/y/z``, then
        ``eta_cnn_x/y/z`` when a model is given, ``solver_seconds`` (wall time of the three
        solves, s) and ``accepted``.

    Raises:
        NotEnoughStructuresError: the seeds ran out before ``count`` structures were accepted.
    """
    count = len(seeds) if count is None else int(count)
    done = [] if rows is None else list(rows.rows)
    accepted = sum(bool(row["accepted"]) for row in done)
    progress = tqdm(total=count, initial=accepted, desc="validate", unit="structure")
    for seed in seeds[len(done) :]:
        if accepted >= count:
            break
        row = measure_structure(theta, int(seed), size, solve, model, device)
        if rows is not None:
            rows.add(row)
        done.append(row)
        accepted += bool(row["accepted"])
        progress.update(int(row["accepted"]))
    progress.close()
    if accepted < count:
        raise NotEnoughStructuresError(
            f"only {accepted} of {len(done)} structures at theta = {np.round(theta, 4).tolist()} "
            f"(N = {size}) have both phases percolating in x, y and z; {count} were needed"
        )
    return pd.DataFrame(done)


def accepted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`validate_structures` that passed the acceptance rule, without the
    ``accepted`` column (the per-structure table of the validate and upscale rules)."""
    if "accepted" not in frame:
        return frame
    return frame[frame["accepted"].astype(bool)].drop(columns="accepted").reset_index(drop=True)


def rejected_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``seed`` and ``porosity`` of the candidates the acceptance rule rejected."""
    if "accepted" not in frame:
        return pd.DataFrame({"seed": pd.Series(dtype=np.int64), "porosity": []})
    rejected = frame[~frame["accepted"].astype(bool)]
    return rejected[["seed", "porosity"]].reset_index(drop=True)


def upscale_structures(
    theta: Sequence[float],
    seeds: Sequence[int],
    size: int,
    factor: float,
    solve: EtaSolver,
    settings: SolverSettings,
    max_memory_gib: float,
    *,
    count: int | None = None,
    rows: ResumableRows | None = None,
) -> pd.DataFrame:
    """Solver η of structures of side ``size·factor`` at θ with a / factor (docs/method.md §6).

    The size is checked (:func:`upscaled_size`) and the memory planned (:func:`check_memory`)
    before any structure is generated. Candidates, ``count`` and ``rows`` as in
    :func:`validate_structures`; returns its columns without the CNN, plus ``size``.
    """
    big = upscaled_size(size, factor)
    check_memory(big, settings, max_memory_gib)
    frame = validate_structures(
        upscaled_theta(theta, factor), seeds, big, solve, count=count, rows=rows
    )
    return frame.assign(size=big)


def paper_results_for(target: Sequence[float]) -> tuple[str, dict[str, tuple[float, ...]]] | None:
    """The paper's case whose target η equals ``target`` (to 1e-9), or None."""
    for name, case in PAPER_RESULTS.items():
        if np.allclose(case["target"], target, rtol=0, atol=1e-9):
            return name, case
    return None


def summarize(frame: pd.DataFrame, target: Sequence[float], paper_key: str) -> pd.DataFrame:
    """Mean, std and error to the target per method and direction, next to the paper's means.

    Args:
        frame: output of :func:`validate_structures` or :func:`upscale_structures` (rejected
            candidates are left out).
        target: the target (η_x, η_y, η_z).
        paper_key: which of the paper's numbers the solver rows sit next to: ``"solver"``
            (validation) or ``"upscale"``; the CNN rows always use ``"cnn"``.

    Returns:
        One row per method (``solver``, then ``cnn`` when present) and direction: ``method``,
        ``direction``, ``structures``, ``mean``, ``std`` (sample, ddof = 1; NaN for one
        structure), ``target``, ``error`` (mean − target), ``error_percent``
        (100·error/target), ``paper_case``, ``paper_mean`` (NaN when the target is not one
        of the paper's).
    """
    paper = paper_results_for(target)
    frame = accepted_rows(frame)
    rows = []
    for method in ("solver", "cnn"):
        if f"eta_{method}_x" not in frame:
            continue
        key = paper_key if method == "solver" else "cnn"
        for k, axis in enumerate(AXES):
            values = frame[f"eta_{method}_{axis}"].to_numpy(dtype=np.float64)
            mean = float(values.mean())
            rows.append(
                {
                    "method": method,
                    "direction": axis,
                    "structures": len(values),
                    "mean": mean,
                    "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                    "target": float(target[k]),
                    "error": mean - float(target[k]),
                    "error_percent": 100.0 * (mean - float(target[k])) / float(target[k]),
                    "paper_case": paper[0] if paper else "",
                    "paper_mean": paper[1][key][k] if paper else math.nan,
                }
            )
    return pd.DataFrame(rows)


def spread_table(frame: pd.DataFrame, predicted_mean: np.ndarray, predicted_spread: np.ndarray):
    """The seed spread at θ̂: measured between the validation structures against predicted.

    Args:
        frame: output of :func:`validate_structures` (rejected candidates are left out).
        predicted_mean, predicted_spread: E[η] and std[η] over structures at θ̂ along x, y, z,
            shape (3,) each (e.g. :meth:`spinodoid.surrogates.emulator.Emulator.predict`).

    Returns:
        One row per direction: ``direction``, ``structures``, ``measured_mean``,
        ``predicted_mean``, ``measured_std`` (ddof = 1), ``measured_std_se`` (its standard
        error for normal data, std / √(2(n − 1))), ``predicted_std`` and ``ratio``
        (predicted / measured).
    """
    frame = accepted_rows(frame)
    rows = []
    for k, axis in enumerate(AXES):
        values = frame[f"eta_solver_{axis}"].to_numpy(dtype=np.float64)
        n = len(values)
        measured = float(values.std(ddof=1)) if n > 1 else math.nan
        rows.append(
            {
                "direction": axis,
                "structures": n,
                "measured_mean": float(values.mean()),
                "predicted_mean": float(predicted_mean[k]),
                "measured_std": measured,
                "measured_std_se": measured / math.sqrt(2 * (n - 1)) if n > 1 else math.nan,
                "predicted_std": float(predicted_spread[k]),
                "ratio": float(predicted_spread[k]) / measured if n > 1 else math.nan,
            }
        )
    return pd.DataFrame(rows)


class IncompleteDesignError(RuntimeError):
    """A design that ran out of evaluations before its last tolerance, with
    ``design.accept_incomplete`` off."""


def design_status_table(
    statuses: Mapping[str, Mapping[str, object]], accept_incomplete: bool
) -> pd.DataFrame:
    """One row per target (``target_name``, ``status``, ``final_tolerance``, ``message``).

    A design at ``"tolerance_floor"`` (the adaptive schedule found how close the prior lets the
    simulator come, above the last tolerance) is a finished design: its rows are marked, the
    run goes on. A design that ran out of evaluations (``"budget_exhausted"``) is not: more
    evaluations may still bring it to the last tolerance.

    Raises:
        IncompleteDesignError: a design ran out of evaluations and ``accept_incomplete`` is
            False; the message names every such target, its last tolerance and the design's
            message.
    """
    table = pd.DataFrame(
        [{"target_name": name, **dict(status)} for name, status in statuses.items()],
        columns=["target_name", "status", "final_tolerance", "message"],
    )
    incomplete = table[table["status"] == "budget_exhausted"]
    if len(incomplete) and not accept_incomplete:
        lines = [
            f"  {row.target_name}: {row.status} at tolerance {row.final_tolerance} %: {row.message}"
            for row in incomplete.itertuples()
        ]
        raise IncompleteDesignError(
            f"{len(incomplete)} design(s) ran out of evaluations before the last tolerance; "
            "their validation and report are marked, but the run fails. Raise "
            "design.max_evaluations and rerun (the design resumes), use "
            "design.tolerance_schedule: adaptive (it stops at the closest the prior reaches), "
            "or set design.accept_incomplete: true to accept them.\n" + "\n".join(lines)
        )
    return table


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a CSV (17 significant digits) via a temporary name and rename."""
    with atomic_write(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.17g")


def combined_table(
    summaries: Mapping[tuple[str, str], pd.DataFrame],
    design_status: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One table of :func:`summarize` outputs keyed by (target name, stage), stage first.

    ``stage`` is ``"validate"`` or ``"upscale"``; the columns of :func:`summarize` follow
    ``target_name``, ``stage`` and, when ``design_status`` (target name → status) is given,
    ``design_status``, so an incomplete design is marked on every row of its target.
    """
    frames = [
        frame.assign(target_name=name, stage=stage) for (name, stage), frame in summaries.items()
    ]
    table = pd.concat(frames, ignore_index=True)
    first = ["target_name", "stage"]
    if design_status is not None:
        table["design_status"] = table["target_name"].map(dict(design_status))
        first.append("design_status")
    return table[first + [c for c in table.columns if c not in first]]


def comparison_table(
    designs: Sequence[tuple[str, str, Mapping[str, object], pd.DataFrame]],
    targets: Mapping[str, Sequence[float]],
) -> pd.DataFrame:
    """The simulators' designs side by side, one row per (target, simulator).

    Args:
        designs: (target name, simulator, theta_hat.json contents, per-structure validation
            table of :func:`validate_structures`) per design.
        targets: target name → (η_x, η_y, η_z).

    Returns:
        Columns ``target_name``, ``simulator``, ``status``, θ̂ (``a_x`` … ``eps``) and its
        posterior std (``std_a_x`` …), ``evaluations``, ``design_seconds``, ``structures``,
        the solver's mean η at θ̂ (``eta_x`` … ``eta_z``), ``mape_of_mean_percent`` (eq. 15 of
        the mean η against the target) and ``mape_percent`` (eq. 15 over every structure and
        direction: the seed's spread included).
    """
    rows = []
    for name, simulator, theta_hat, frame in designs:
        target = np.asarray(targets[name], dtype=np.float64)
        eta = accepted_rows(frame)[[f"eta_solver_{a}" for a in AXES]].to_numpy(np.float64)
        mean = eta.mean(axis=0)
        std = theta_hat.get("posterior_std", {})
        rows.append(
            {
                "target_name": name,
                "simulator": simulator,
                "status": theta_hat.get("status"),
                **{p: float(theta_hat[p]) for p in ("a_x", "a_y", "a_z", "eps")},
                **{f"std_{p}": std.get(p, math.nan) for p in ("a_x", "a_y", "a_z", "eps")},
                "evaluations": theta_hat.get("evaluations"),
                "design_seconds": theta_hat.get("wall_time_s"),
                "structures": len(eta),
                **{f"eta_{a}": float(mean[k]) for k, a in enumerate(AXES)},
                "mape_of_mean_percent": float(100 * np.mean(np.abs(mean - target) / target)),
                "mape_percent": float(100 * np.mean(np.abs(eta - target) / target)),
            }
        )
    return pd.DataFrame(rows)
