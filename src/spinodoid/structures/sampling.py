"""Rejection sampling of dataset shards (docs/method.md §2; rule ``sample``).

Shard ``s`` draws candidate ``k`` with θ from the prior (generator seeded by
``(base_seed, s)``) and structure seed :func:`structure_seed` ``(base_seed, s, k)``, and keeps it
only if pore and solid both percolate in all three directions. Candidates are drawn in order until
the shard is full, so a shard is a pure function of ``(base_seed, s, shard_size, size)``.
"""

from __future__ import annotations

import logging
import os

import numpy as np
from tqdm import tqdm

from spinodoid.formats.shards import Shard, read_shard_h5
from spinodoid.structures.connectivity import percolating_axes
from spinodoid.structures.grf import generate_structure
from spinodoid.structures.prior import sample_prior

__all__ = ["ShardFullError", "rejection_table", "sample_shard", "structure_seed"]

log = logging.getLogger(__name__)


class ShardFullError(RuntimeError):
    """A shard could not be filled within its attempt budget."""


def structure_seed(base_seed: int, shard: int, index: int) -> int:
    """Seed of candidate ``index`` of shard ``shard``: a SeedSequence hash, in [0, 2**63)."""
    state = np.random.SeedSequence([base_seed, shard, index]).generate_state(1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))


def _rejection_reason(structure: np.ndarray) -> str | None:
    solid = structure.astype(bool)
    pore_ok = all(percolating_axes(~solid))
    solid_ok = all(percolating_axes(solid))
    if pore_ok and solid_ok:
        return None
    if not pore_ok and not solid_ok:
        return "both"
    return "pore" if not pore_ok else "solid"


def sample_shard(
    shard: int, shard_size: int, size: int, base_seed: int, max_attempts_per_structure: int = 20
) -> Shard:
    """Fill one shard with ``shard_size`` bicontinuous structures of size ``size``³."""
    rng = np.random.default_rng([base_seed, shard])
    structures = np.empty((shard_size, size, size, size), dtype=np.uint8)
    thetas, seeds, rejected, reasons = [], [], [], []
    budget = shard_size * max_attempts_per_structure
    progress = tqdm(total=shard_size, desc=f"shard {shard}", unit="structure", mininterval=2)
    for candidate in range(budget):
        if len(seeds) == shard_size:
            break
        theta = sample_prior(rng, 1)[0]
        seed = structure_seed(base_seed, shard, candidate)
        structure = generate_structure(theta, seed, size)
        reason = _rejection_reason(structure)
        if reason is None:
            structures[len(seeds)] = structure
            thetas.append(theta)
            seeds.append(seed)
            progress.update()
        else:
            rejected.append(theta)
            reasons.append(reason)
    progress.close()
    if len(seeds) < shard_size:
        raise ShardFullError(
            f"shard {shard}: only {len(seeds)} of {shard_size} structures percolate after "
            f"{budget} candidates (sample.max_attempts_per_structure ="
            f" {max_attempts_per_structure})"
        )
    log.info("shard %d: %d accepted of %d candidates", shard, shard_size, len(seeds) + len(reasons))
    return Shard(
        index=shard,
        size=size,
        base_seed=base_seed,
        structures=structures,
        theta=np.array(thetas, dtype=np.float64).reshape(-1, 4),
        seed=np.array(seeds, dtype=np.int64),
        rejected_theta=np.array(rejected, dtype=np.float64).reshape(-1, 4),
        rejected_reason=np.array(reasons, dtype="U5"),
    )


def rejection_table(paths: list[str | os.PathLike]):
    """Per-shard acceptance statistics as a pandas DataFrame (one row per shard)."""
    import pandas as pd

    rows = []
    for path in paths:
        shard = read_shard_h5(path, load_structures=False)
        reasons = shard.rejected_reason
        rows.append(
            {
                "shard": shard.index,
                "accepted": len(shard.seed),
                "attempts": shard.attempts,
                "acceptance_rate": len(shard.seed) / shard.attempts,
                "rejected_pore": int(np.sum(reasons == "pore")),
                "rejected_solid": int(np.sum(reasons == "solid")),
                "rejected_both": int(np.sum(reasons == "both")),
            }
        )
    return pd.DataFrame(rows)
