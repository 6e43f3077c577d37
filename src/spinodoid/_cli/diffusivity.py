"""``spinodoid diffusivity``: η of a structure file along one or more axes (docs/method.md §7)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

__all__ = ["register", "run"]

_EPILOG = """\
examples:
  spinodoid diffusivity case1.h5 --axes x y z --interface subvoxel --json
  spinodoid diffusivity structure.npy --solver fv --axes x
  spinodoid diffusivity case1.h5 --solver lbm --interface subvoxel

FILE is what `spinodoid generate` writes (.h5 with theta and seed, or .npy uint8 voxels,
1 = solid), or a float .npy read as a level set (pore where < 0). --interface subvoxel needs
a level set: a float .npy, or an .h5 from which it is regenerated; its walls are the open
fractions of the voxel faces (docs/lbm.md).
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "diffusivity",
        help="effective diffusivity eta of a structure file",
        description="Steady-state effective diffusivity eta = D_eff/D (eq. 6-7) per axis.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="structure file (.h5 or .npy)")
    parser.add_argument("--axes", nargs="+", choices=("x", "y", "z"), default=["x", "y", "z"])
    parser.add_argument(
        "--solver",
        choices=("lbm", "fv", "multigrid"),
        default=None,
        help="default: the fastest solver of the LBM's discretisation on --arch (multigrid; "
        "spinodoid.solvers.diffusivity.FASTEST_SOLVER); lbm solves the same system by the "
        "lattice-Boltzmann method, fv by scipy/pyamg",
    )
    parser.add_argument(
        "--interface",
        choices=("voxel", "subvoxel"),
        default=None,
        help="wall model; default: subvoxel when FILE carries a level set, else voxel",
    )
    parser.add_argument("--lateral", choices=("periodic", "zero_flux"), default="periodic")
    parser.add_argument(
        "--arch", choices=("cpu", "cuda"), default="cpu", help="LBM and multigrid backend"
    )
    parser.add_argument(
        "--subvoxel-refine",
        type=int,
        default=None,
        help="with --interface subvoxel: solve on the level set refined this many times "
        "(default: spinodoid.solvers.diffusivity.DEFAULT_SUBVOXEL_REFINE)",
    )
    parser.add_argument(
        "--extrapolate",
        action="store_true",
        help="with --interface subvoxel: solve at the refinement and twice it, and report "
        "the second-order extrapolation to zero cell size (cost about 9x multigrid)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spinodoid.formats.structure_file import load_structure
    from spinodoid.solvers.diffusivity import (
        DEFAULT_SUBVOXEL_REFINE,
        FASTEST_SOLVER,
        effective_diffusivity,
        effective_diffusivity_xyz,
    )

    if args.solver is None:
        args.solver = FASTEST_SOLVER[args.arch]
    if args.subvoxel_refine is None:
        args.subvoxel_refine = DEFAULT_SUBVOXEL_REFINE
    loaded = load_structure(args.file)
    if args.interface is None:
        args.interface = "voxel" if loaded.level_set is None else "subvoxel"
    level_set = loaded.level_set if args.interface == "subvoxel" else None
    options = dict(
        solver=args.solver,
        interface=args.interface,
        level_set=level_set,
        arch=args.arch,
        lateral=args.lateral,
        subvoxel_refine=args.subvoxel_refine,
        extrapolate=args.extrapolate,
    )
    axes = tuple("xyz".index(axis) for axis in args.axes)
    with contextlib.redirect_stdout(sys.stderr):  # taichi prints banners; stdout is the result
        if args.solver != "fv" or level_set is not None:
            # taichi's runtime starts before the clock of the first solve, as torch's import
            # comes before a torch solver's (the whole command's time includes both)
            from spinodoid.solvers.backend import init_backend

            init_backend(args.arch)
        if len(set(loaded.voxels.shape)) == 1:  # cubic: one batched solve for all axes
            solved = effective_diffusivity_xyz(loaded.voxels, axes, **options)
        else:
            solved = [effective_diffusivity(loaded.voxels, axis, **options) for axis in axes]
    results = dict(zip(args.axes, solved, strict=True))
    if args.json:
        keys = ("eta", "iterations", "seconds", "flux_change", "flux_nonuniformity")
        out = {key: {a: getattr(r, key) for a, r in results.items()} for key in keys}
        out.update(solver=args.solver, interface=args.interface, lateral=args.lateral)
        print(json.dumps(out))
    else:
        for axis, r in results.items():
            print(
                f"eta_{axis} = {r.eta:.6f}  ({r.solver}/{r.interface}, {r.iterations} iterations, "
                f"{r.seconds:.2f} s, flux non-uniformity {r.flux_nonuniformity:.1e})"
            )
    return 0
