"""Seeds of a design run: one per target from the master seed, one structure seed per candidate.

A run is a pure function of its seed: candidate ``k`` of the run (0-based, over the pilot and
all generations) is simulated with the structure seed ``evaluation_seeds(seed, k)``.
"""

from __future__ import annotations

import zlib

import numpy as np

from spinodoid.hashing import MASK64, splitmix64

__all__ = ["design_seed", "evaluation_seeds"]

_DESIGN_STREAM = 0xD1E5_1A7E  # separates design seeds from the dataset's structure seeds


def evaluation_seeds(base_seed: int, evaluation_index: np.ndarray) -> np.ndarray:
    """Structure seed of each candidate of a design run.

    Args:
        base_seed: the run's seed (non-negative int, e.g. :func:`design_seed`).
        evaluation_index: candidate numbers within the run, shape (B,) int64, ≥ 0.

    Returns:
        Seeds in [0, 2³²), shape (B,) int64; distinct runs and indices give unrelated seeds.
    """
    key = splitmix64(np.array([(base_seed ^ _DESIGN_STREAM) & MASK64], dtype=np.uint64))
    idx = np.asarray(evaluation_index, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = splitmix64(key + idx * np.uint64(0x632BE59BD9B4E019))
    return (mixed >> np.uint64(32)).astype(np.int64)


def design_seed(base_seed: int, target_name: str) -> int:
    """Seed of the design run for one named target, derived from the master seed.

    Args:
        base_seed: the config's master seed.
        target_name: the target's name in the config.

    Returns:
        A seed in [0, 2³²) (int).
    """
    seq = np.random.SeedSequence([base_seed, _DESIGN_STREAM, zlib.crc32(target_name.encode())])
    return int(seq.generate_state(1, dtype=np.uint32)[0])
