"""Tests of spinodoid.structures.sampling: deterministic rejection sampling and the shard file."""

import numpy as np
import pytest

from spinodoid.formats.shards import read_shard_h5, write_shard_h5
from spinodoid.structures import sampling
from spinodoid.structures.connectivity import is_bicontinuous
from spinodoid.structures.grf import generate_structure
from spinodoid.structures.sampling import (
    ShardFullError,
    rejection_table,
    sample_shard,
    structure_seed,
)


def test_shard_is_deterministic_and_only_keeps_bicontinuous_structures():
    first = sample_shard(shard=3, shard_size=4, size=32, base_seed=9)
    second = sample_shard(shard=3, shard_size=4, size=32, base_seed=9)
    assert first.structures.tobytes() == second.structures.tobytes()
    np.testing.assert_array_equal(first.seed, second.seed)
    for structure, theta, seed in zip(first.structures, first.theta, first.seed, strict=True):
        assert is_bicontinuous(structure)
        np.testing.assert_array_equal(structure, generate_structure(theta, int(seed), 32))
    assert first.attempts == 4 + len(first.rejected_reason)


def test_seeds_differ_between_shards_and_candidates():
    seeds = {structure_seed(1, shard, k) for shard in range(20) for k in range(20)}
    assert len(seeds) == 400
    assert all(0 <= s < 2**63 for s in seeds)


def test_round_trip_through_h5(tmp_path):
    shard = sample_shard(shard=0, shard_size=2, size=16, base_seed=1)
    path = tmp_path / "shard_00000.h5"
    write_shard_h5(shard, path)
    loaded = read_shard_h5(path)
    assert loaded.structures.tobytes() == shard.structures.tobytes()
    np.testing.assert_array_equal(loaded.theta, shard.theta)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    table = rejection_table([path])
    assert table.loc[0, "accepted"] == 2 and table.loc[0, "attempts"] == shard.attempts


def test_a_shard_that_cannot_be_filled_says_why(monkeypatch):
    monkeypatch.setattr(
        sampling, "generate_structure", lambda theta, seed, size: np.ones((size,) * 3, np.uint8)
    )
    with pytest.raises(ShardFullError, match="max_attempts_per_structure = 3"):
        sample_shard(shard=0, shard_size=2, size=8, base_seed=0, max_attempts_per_structure=3)
