"""Fingerprint of structures and η, to compare two checkouts bit for bit.

For six θ from the prior (numpy seed 11) with seeds 1000–1005 at N = 64: SHA-256 of each level
set and structure, and η along x, y, z as exact float hex by multigrid (voxel and sub-voxel
interfaces) and, for the first two, by the sub-voxel LBM. Run it in each checkout and compare
the files (``cmp``); it imports the package layout before and after the move to
``spinodoid.solvers`` / ``spinodoid.structures``.

Usage: PYTHONPATH=CHECKOUT/src python benchmarks/bit_for_bit.py OUT.json
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

try:
    from spinodoid.solvers.diffusivity import effective_diffusivity_xyz
    from spinodoid.structures.grf import level_set
    from spinodoid.structures.prior import sample_prior
except ImportError:  # the flat layout before the packages
    from spinodoid.diffusivity import effective_diffusivity_xyz
    from spinodoid.prior import sample_prior
    from spinodoid.structure import level_set

SOLVES = (("multigrid", "voxel"), ("multigrid", "subvoxel"), ("lbm", "subvoxel"))


def fingerprint(index: int, theta: np.ndarray) -> dict:
    """Hashes of one structure and its η per solver (hex floats, or the error's name)."""
    field = level_set(theta, 1000 + index, 64)
    structure = (field >= 0).view(np.uint8)
    record = {
        "level_set_sha256": hashlib.sha256(field.tobytes()).hexdigest(),
        "structure_sha256": hashlib.sha256(structure.tobytes()).hexdigest(),
    }
    for solver, interface in SOLVES:
        if solver == "lbm" and index >= 2:
            continue
        sides = field if interface == "subvoxel" else None
        try:
            results = effective_diffusivity_xyz(
                structure, solver=solver, interface=interface, level_set=sides
            )
            record[f"{solver}/{interface}"] = [r.eta.hex() for r in results]
        except Exception as error:  # a disconnected draw: its error is its fingerprint
            record[f"{solver}/{interface}"] = type(error).__name__
    return record


def main() -> None:
    thetas = sample_prior(np.random.default_rng(11), 6)
    out = {str(i): fingerprint(i, theta) for i, theta in enumerate(thetas)}
    with open(sys.argv[1], "w") as handle:
        json.dump(out, handle, indent=1)


if __name__ == "__main__":
    main()
