"""Tests of spinodoid.formats.shards: the shard file round trip, attributes and lazy structures."""

import h5py
import numpy as np

from spinodoid import __version__
from spinodoid.formats.shards import Shard, read_shard_h5, write_shard_h5


def _shard() -> Shard:
    rng = np.random.default_rng(3)
    return Shard(
        index=5,
        size=6,
        base_seed=11,
        structures=(rng.random((3, 6, 6, 6)) < 0.5).astype(np.uint8),
        theta=rng.random((3, 4)),
        seed=np.array([4, 8, 15], dtype=np.int64),
        rejected_theta=rng.random((2, 4)),
        rejected_reason=np.array(["pore", "both"]),
    )


def test_round_trip_keeps_every_field(tmp_path):
    shard = _shard()
    write_shard_h5(shard, tmp_path / "shard_00005.h5")
    back = read_shard_h5(tmp_path / "shard_00005.h5")
    assert (back.index, back.size, back.base_seed, back.attempts) == (5, 6, 11, 5)
    for name in ("structures", "theta", "seed", "rejected_theta", "rejected_reason"):
        np.testing.assert_array_equal(getattr(back, name), getattr(shard, name))
    with h5py.File(tmp_path / "shard_00005.h5", "r") as f:
        assert f.attrs["accepted"] == 3 and f.attrs["package_version"] == __version__
        assert f["structures"].chunks == (1, 6, 6, 6)


def test_structures_can_be_skipped(tmp_path):
    write_shard_h5(_shard(), tmp_path / "s.h5")
    back = read_shard_h5(tmp_path / "s.h5", load_structures=False)
    assert back.structures.shape == (0, 6, 6, 6) and len(back.seed) == 3
