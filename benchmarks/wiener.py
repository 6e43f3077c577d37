"""The Wiener bound η ≤ ε over a dataset, and the structures that broke it re-solved.

No geometry of porosity ε conducts more than ε along any direction (η ≤ ε). For a dataset
(``results/dataset.zarr``) this prints the largest η − ε and every η above ε; with
``--resolve`` it regenerates each offending structure from its (θ, seed, N) and solves it
again with the pipeline's current solver (multigrid on the porosity-matched sub-voxel
interface, periodic sides: ``simulate.solver: multigrid``, ``interface: subvoxel``), so a
dataset written by an older release shows how far those η moved.

Usage: python benchmarks/wiener.py results/dataset.zarr [--resolve]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from spinodoid.formats.dataset import read_labels, read_seeds
from spinodoid.solvers.diffusivity import effective_diffusivity_xyz
from spinodoid.structures.grf import level_set


def resolve(theta: np.ndarray, seed: int, size: int) -> np.ndarray:
    """η (x, y, z) of one structure by the pipeline's solver and interface."""
    psi = level_set(theta, seed, size)
    results = effective_diffusivity_xyz(
        (psi >= 0).view(np.uint8), solver="multigrid", interface="subvoxel", level_set=psi
    )
    return np.array([r.eta for r in results])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--resolve", action="store_true", help="re-solve structures with η > ε")
    args = parser.parse_args()
    eta, theta, _ = read_labels(args.dataset)
    seeds, attrs = read_seeds(args.dataset)
    size = int(attrs["N"])
    excess = eta - theta[:, 3:4]
    print(
        f"{args.dataset}: {len(eta)} structures, N = {size}, solver "
        f"{attrs.get('solver')}/{attrs.get('interface')}; largest η − ε "
        f"{excess.max():+.4f}; {int((excess > 0).sum())} of {excess.size} η above ε"
    )
    for i in np.flatnonzero((excess > 0).any(axis=1)):
        line = f"  θ = {np.round(theta[i], 4)}, seed {int(seeds[i])}: η = {np.round(eta[i], 4)}"
        if args.resolve:
            new = resolve(theta[i], int(seeds[i]), size)
            line += (
                f" → {np.round(new, 4)} (moved {np.round(new - eta[i], 4)}, "
                f"η − ε now {np.round(new - theta[i, 3], 4)})"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
