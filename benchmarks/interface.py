"""Porosity-matched vs plain trilinear sub-voxel interface: distance to the converged η.

For each structure (the smallest-a accepted draws of the paper's prior at N, and θ̂₁, θ̂₂ with
a·192/N), the level set is refined 2× and 3× spectrally (:func:`refined_transport_first`, the
same physical domain) and solved by multigrid CG (:mod:`spinodoid.solvers.multigrid`, default) or
finite
volumes (:mod:`spinodoid.solvers.fv`): both solve the LBM's steady state to 1e-5, and multigrid is
the
fastest on a CPU. Both interfaces: ``old`` (trilinear open fractions) and ``new``
(``match_porosity=True``, docs/lbm.md "Porosity-matched interface"). η∞ is the Richardson
extrapolation of the new sequence (observed order of its three finest levels when monotone,
else 2); the old sequence's own extrapolation is reported beside it, and so is
``simulate.extrapolate``'s η (order 2 from the two coarsest levels, N and 2N: run ``--factors
1 2 3 4`` for an η∞ that does not use N). Also the mean open fraction per direction at N.

Run: ``python benchmarks/interface.py --sizes 32 48 64 --draws 1 --cases-size 64`` (CPU);
``--sizes 192 --factors 1 2 --cases-size 0`` for the paper's N. Writes a CSV of every solve and
prints the deviations from η∞ (%); ``--summarise A.csv B.csv`` reports earlier runs together
(for example the levels 1–3 of one run and 4 of another).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from refinement import CASES, richardson, scaled_theta

from spinodoid.solvers import subvoxel
from spinodoid.solvers.diffusivity import extrapolated_eta, refined_transport_first
from spinodoid.solvers.fv import fv_diffusivity
from spinodoid.solvers.multigrid import multigrid_diffusivity
from spinodoid.structures.connectivity import is_bicontinuous
from spinodoid.structures.grf import generate_structure, level_set
from spinodoid.structures.prior import sample_prior

#: Solvers of the open-fraction system, called as
#: ``f(structure, axis, lateral, level_set=..., match_porosity=...)``.
SOLVERS = {"multigrid": multigrid_diffusivity, "fv": fv_diffusivity}


def smallest_a_draws(size: int, count: int, pool: int = 4000, seed: int = 1) -> list[tuple]:
    """The ``count`` accepted prior draws with the smallest a among ``pool`` draws."""
    theta = sample_prior(np.random.default_rng(seed), pool)
    picked = []
    for i in np.argsort(theta[:, :3].min(axis=1)):
        if len(picked) == count:
            break
        if is_bicontinuous(generate_structure(theta[i], int(i), size)):
            picked.append((f"prior#{int(i)}", theta[i], int(i)))
    return picked


def random_draws(size: int, count: int, seed: int = 2) -> list[tuple]:
    """The first ``count`` accepted prior draws of a stream: typical structures of the prior."""
    theta = sample_prior(np.random.default_rng(seed), 50 * count)
    picked = []
    for i in range(len(theta)):
        if len(picked) == count:
            break
        if is_bicontinuous(generate_structure(theta[i], i, size)):
            picked.append((f"random#{i}", theta[i], i))
    return picked


def first_accepted(case: str, size: int, scaled: bool = True) -> tuple:
    """The case's first accepted seed at N, with a·192/N (``scaled``) or the case's own a."""
    theta, seed = (scaled_theta(case, size) if scaled else np.array(CASES[case])), 0
    while not is_bicontinuous(generate_structure(theta, seed, size)):
        seed += 1
    return (case, theta, seed)


def solve(
    label: str,
    theta: np.ndarray,
    seed: int,
    size: int,
    factors: list[int],
    axes: tuple[int, ...],
    solver: str,
    interfaces: tuple[str, ...] = ("old", "new"),
    open_fractions: bool = True,
) -> list[dict]:
    """η of one structure along ``axes`` at every refinement factor, per interface."""
    psi = level_set(theta, seed, size)
    eps = float((psi < 0).mean())
    rows = []
    for factor in factors:
        batch = refined_transport_first(psi, axes, factor)
        for interface in interfaces:
            match = interface == "new"
            t0 = time.perf_counter()
            for member, axis in zip(batch, axes, strict=True):
                if open_fractions:  # the solver computes the shifts again
                    shifts = subvoxel.porosity_shifts(member[None]) if match else None
                    means = subvoxel.open_fraction_means(member[None], shifts=shifts)[0]
                else:
                    means = [float("nan")]
                eta = SOLVERS[solver](
                    (member >= 0).view(np.uint8),
                    0,
                    "periodic",
                    level_set=member,
                    match_porosity=match,
                ).eta
                rows.append(
                    dict(
                        structure=label,
                        seed=seed,
                        size=size,
                        a_min_voxels=float(theta[:3].min() * size),
                        eps=eps,
                        factor=factor,
                        interface=interface,
                        axis="xyz"[axis],
                        eta=eta,
                        open_fraction=float(means[0]),
                    )
                )
            print(
                f"{label} N={size} x{factor} {interface}: "
                f"{[round(r['eta'], 5) for r in rows[-len(axes) :]]} "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    return rows


def extrapolated(sequence: pd.DataFrame) -> tuple[float, float]:
    """η∞ and the order used (:func:`richardson`) of one interface's levels; NaN below two."""
    if len(sequence) < 2:
        return float("nan"), float("nan")
    return richardson(1.0 / sequence.factor.to_numpy(), sequence.eta.to_numpy(), 2.0)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Deviation (%) of η from η∞ (new sequence extrapolated) per structure, axis, level."""
    out = []
    for key, group in rows.groupby(["structure", "size", "axis"]):
        new = group[group.interface == "new"].sort_values("factor")
        old = group[group.interface == "old"].sort_values("factor")
        limit, order = extrapolated(new)
        limit_old, _ = extrapolated(old)
        rec = dict(zip(["structure", "size", "axis"], key, strict=True))
        rec.update(eps=new.eps.iloc[0], eta_inf=limit, eta_inf_old=limit_old, order=order)
        for name, seq in (("old", old), ("new", new)):
            for factor, eta in zip(seq.factor, seq.eta, strict=True):
                rec[f"{name}_{factor}x_%"] = 100 * (eta / limit - 1)
        if len(new) >= 2:  # simulate.extrapolate's η, from the two coarsest levels
            eta_extrapolated = extrapolated_eta(new.eta.iloc[0], new.eta.iloc[1])
            rec["new_extrapolated_%"] = 100 * (eta_extrapolated / limit - 1)
        if len(new) >= 4:  # an η∞ that uses neither N nor 2N: order 2 from the two finest
            independent, _ = extrapolated(new.iloc[-2:])
            rec["eta_inf_two_finest"] = independent
            rec["new_extrapolated_vs_two_finest_%"] = 100 * (eta_extrapolated / independent - 1)
        out.append(rec)
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 48, 64])
    parser.add_argument("--draws", type=int, default=1, help="smallest-a prior draws per N")
    parser.add_argument("--random-draws", type=int, default=0, help="random prior draws per N")
    parser.add_argument("--cases-size", type=int, default=32, help="N of θ̂₁, θ̂₂ (0: none)")
    parser.add_argument(
        "--cases-unscaled", action="store_true", help="θ̂₁, θ̂₂ with their own a, not a·192/N"
    )
    parser.add_argument("--factors", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--axes", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--solver", choices=sorted(SOLVERS), default="multigrid")
    parser.add_argument("--interfaces", nargs="+", choices=("old", "new"), default=["old", "new"])
    parser.add_argument(
        "--no-open-fractions",
        action="store_true",
        help="skip the open-fraction report (its shifts cost about as much as the solve's)",
    )
    parser.add_argument(
        "--summarise",
        nargs="+",
        type=Path,
        metavar="CSV",
        help="solve nothing: summarise the rows of these CSVs of earlier runs together",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/interface.csv"))
    args = parser.parse_args()
    if args.summarise:
        report(pd.concat([pd.read_csv(path) for path in args.summarise]), args.out)
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    structures = [
        (size, *draw)
        for size in args.sizes
        for draw in smallest_a_draws(size, args.draws) + random_draws(size, args.random_draws)
    ]
    if args.cases_size:
        structures += [
            (args.cases_size, *first_accepted(c, args.cases_size, not args.cases_unscaled))
            for c in CASES
        ]
    rows = []
    for size, label, theta, seed in structures:
        rows += solve(
            label,
            theta,
            seed,
            size,
            args.factors,
            tuple(args.axes),
            args.solver,
            tuple(args.interfaces),
            not args.no_open_fractions,
        )
        pd.DataFrame(rows).to_csv(args.out, index=False)
    report(pd.DataFrame(rows), args.out)


def report(rows: pd.DataFrame, out: Path) -> None:
    """Write the summary beside ``out`` (``<stem>_summary.csv``) and print it."""
    summary = summarise(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out.with_name(out.stem + "_summary.csv"), index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(summary.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
