"""Refinement study: η of a GRF level set under grid refinement, staircase vs sub-voxel walls.

The same level set Ψ − T (docs/method.md §1) is sampled at N and at factor·N by spectral
interpolation
(:func:`spinodoid.structures.grf.refine_level_set`); along the transport axis the fine grid keeps
the same physical domain, from the centre of layer 0 to the centre of layer N − 1
(factor·(N − 1) + 1 fine layers), so every refinement solves the same continuum problem.
Length scales are a·192/N, so a structure at N has the voxels-per-feature of the paper's
N = 192 (docs/method.md §1); refining it shows how far η at N = 192 is from its converged value.

Each (structure, factor, interface) solves x, y, z as one LBM batch. The converged η is
Richardson-extrapolated from the sub-voxel sequence (observed order from three levels when
they decrease monotonically, else the nominal order 2) and, for comparison, from the
staircase sequence (nominal order 1).

Run: ``python benchmarks/refinement.py`` (CPU: N = 32 with 1×, 2×, 3× and N = 48 with 1×,
2×, 3×) or ``python benchmarks/refinement.py --arch cuda --sizes 96 192`` (96 with 1×, 2×, 3×
and 192 with 1×, 2×: the fine grid is capped by ``--max-fine``, 384 on CUDA). Writes a CSV
of every solve, a CSV of the extrapolations and the figure.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from spinodoid.solvers import lbm
from spinodoid.solvers.diffusivity import refined_transport_first
from spinodoid.structures.connectivity import is_bicontinuous
from spinodoid.structures.grf import generate_structure, level_set

CASES = {  # the paper's posterior means (docs/method.md §5)
    "theta_hat_1": (0.092, 0.135, 0.245, 0.666),
    "theta_hat_2": (0.098, 0.151, 0.284, 0.572),
}
NOMINAL_ORDER = {"voxel": 1.0, "subvoxel": 2.0}


def scaled_theta(case: str, size: int) -> np.ndarray:
    """θ of ``case`` with a·192/N: the paper's voxels per feature at N = 192."""
    theta = np.array(CASES[case])
    theta[:3] *= 192 / size
    return theta


def accepted_seeds(case: str, size: int, count: int) -> list[int]:
    """The first ``count`` seeds whose structure passes the dataset's acceptance test
    (both phases percolate in x, y and z; docs/method.md §2)."""
    theta = scaled_theta(case, size)
    seeds, seed = [], 0
    while len(seeds) < count:
        if is_bicontinuous(generate_structure(theta, seed, size)):
            seeds.append(seed)
        seed += 1
    return seeds


def solve_levels(case: str, seed: int, size: int, factors: list[int], arch: str) -> list[dict]:
    """η (x, y, z) of one structure at each refinement factor, staircase and sub-voxel."""
    psi = level_set(scaled_theta(case, size), seed, size)
    rows = []
    for factor in factors:
        batch = refined_transport_first(psi, (0, 1, 2), factor)
        for interface in ("voxel", "subvoxel"):
            t0 = time.perf_counter()
            if interface == "voxel":
                run = lbm.lbm_diffusivity((batch >= 0).view(np.uint8), arch=arch)
            else:
                run = lbm.lbm_diffusivity(None, level_set=batch, arch=arch)
            seconds = time.perf_counter() - t0
            for axis in range(3):
                rows.append(
                    dict(
                        case=case,
                        seed=seed,
                        size=size,
                        factor=factor,
                        fine_size=factor * size,
                        interface=interface,
                        axis="xyz"[axis],
                        eta=float(run.eta[axis]),
                        steps=int(run.steps[axis]),
                        converged=bool(run.converged[axis]),
                        seconds=seconds,
                    )
                )
            print(
                f"{case} seed {seed} N={size} x{factor} {interface:8s}: eta {np.round(run.eta, 5)}"
                f" steps {run.steps} {seconds:.1f} s (3 dirs incl. face fractions)",
                flush=True,
            )
    return rows


def richardson(h: np.ndarray, eta: np.ndarray, nominal: float) -> tuple[float, float]:
    """Extrapolated η at h → 0 and the order used, from η(h) = η∞ + C h^p.

    Three levels with monotone differences give the observed p (kept if 0.5 ≤ p ≤ 4);
    otherwise p = ``nominal``, fitted on the two finest levels.
    """
    order = np.argsort(h)[::-1]
    h, eta = h[order], eta[order]
    p = nominal
    if len(h) >= 3:
        d1, d2 = eta[-3] - eta[-2], eta[-2] - eta[-1]
        if d1 * d2 > 0 and abs(d2) < abs(d1):
            p_obs = _observed_order(h[-3:], d1 / d2)
            if 0.5 <= p_obs <= 4:
                p = p_obs
    h1, h2 = h[-2], h[-1]
    r = (h1 / h2) ** p
    return float(eta[-1] + (eta[-1] - eta[-2]) / (r - 1)), p


def _observed_order(h: np.ndarray, ratio: float) -> float:
    """p solving (h0^p − h1^p)/(h1^p − h2^p) = ratio, by bisection on [0.1, 6]."""

    def f(p: float) -> float:
        return (h[0] ** p - h[1] ** p) / (h[1] ** p - h[2] ** p) - ratio

    lo, hi = 0.1, 6.0
    if f(lo) * f(hi) > 0:
        return float("nan")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(lo) * f(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def extrapolate(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (case, seed, size, axis): η at the base grid per interface, the extrapolations
    and the relative errors of the base-grid η against the sub-voxel extrapolation."""
    out = []
    for key, group in rows.groupby(["case", "seed", "size", "axis"]):
        if group.factor.nunique() < 2:  # nothing to extrapolate from a single grid
            continue
        rec = dict(zip(["case", "seed", "size", "axis"], key, strict=True))
        for interface in ("voxel", "subvoxel"):
            g = group[group.interface == interface].sort_values("factor")
            limit, p = richardson(
                1.0 / g.factor.to_numpy(), g.eta.to_numpy(), NOMINAL_ORDER[interface]
            )
            rec[f"eta_{interface}_base"] = float(g.eta.iloc[0])
            rec[f"eta_{interface}_finest"] = float(g.eta.iloc[-1])
            rec[f"eta_{interface}_extrapolated"] = limit
            rec[f"order_{interface}"] = p
        ref = rec["eta_subvoxel_extrapolated"]
        for interface in ("voxel", "subvoxel"):
            rec[f"error_{interface}_base"] = rec[f"eta_{interface}_base"] / ref - 1
        out.append(rec)
    return pd.DataFrame(out)


def plot(rows: pd.DataFrame, summary: pd.DataFrame, path: Path) -> None:
    """Deviation of η from its extrapolated limit (%) against the grid spacing h = 1/factor,
    one panel per structure; the grey band is ±1 %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(rows.groupby(["case", "seed", "size"]).groups)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        sub = rows[(rows.case == key[0]) & (rows.seed == key[1]) & (rows["size"] == key[2])]
        for axis, colour in zip("xyz", ("C0", "C1", "C2"), strict=True):
            limit = summary[
                (summary.case == key[0])
                & (summary.seed == key[1])
                & (summary["size"] == key[2])
                & (summary.axis == axis)
            ].eta_subvoxel_extrapolated.iloc[0]
            for interface, style in (("voxel", "s--"), ("subvoxel", "o-")):
                g = sub[(sub.axis == axis) & (sub.interface == interface)].sort_values("factor")
                deviation = 100 * (g.eta / limit - 1)
                ax.plot(
                    1 / g.factor, deviation, style, color=colour, ms=4, label=f"{axis} {interface}"
                )
        ax.axhspan(-1, 1, color="0.9", zorder=0)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlim(0, 1.05)
        ax.set_xlabel("grid spacing h (voxels of N)")
        ax.set_title(f"{key[0]}, seed {key[1]}, N = {key[2]}", fontsize=9)
    axes[0][0].set_ylabel("η / η∞ − 1 (%)")
    axes[0][0].legend(fontsize=6, ncol=2)
    fig.suptitle(
        "η under refinement, relative to η∞ (Richardson extrapolation of the sub-voxel runs)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    parser.add_argument("--factors", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--max-fine", type=int, default=None, help="largest factor·N solved")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    parser.add_argument("--structures", type=int, default=1, help="accepted seeds per case")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sizes = args.sizes or ([32, 48] if args.arch == "cpu" else [96, 192])
    max_fine = args.max_fine or (144 if args.arch == "cpu" else 384)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows = []
    for size in sizes:
        factors = [f for f in args.factors if f * size <= max_fine]
        for case in args.cases:
            for seed in accepted_seeds(case, size, args.structures):
                rows += solve_levels(case, seed, size, factors, args.arch)
    rows = pd.DataFrame(rows)
    summary = extrapolate(rows)
    stem = f"refinement_{args.arch}"
    rows.to_csv(args.out / f"{stem}.csv", index=False)
    summary.to_csv(args.out / f"{stem}_summary.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summary.round(5).to_string(index=False))
    plot(rows, summary, args.figure or args.out / f"{stem}.png")
    print(f"total {time.perf_counter() - t0:.0f} s on {args.arch}")


if __name__ == "__main__":
    main()
