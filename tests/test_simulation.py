"""Tests of spinodoid.simulation: η of every structure of a shard, failed solves flagged."""

import numpy as np

from spinodoid.formats.shards import Shard
from spinodoid.simulation import simulate_shard
from spinodoid.structures.grf import generate_structure


def test_a_failed_structure_is_flagged_and_the_rest_kept():
    size, theta = 12, (0.2, 0.2, 0.2, 0.6)
    good = generate_structure(theta, 3, size)
    channel = np.ones((size,) * 3, np.uint8)
    channel[:, 4:8, 4:8] = 0  # a straight pore channel along x only
    shard = Shard(
        index=2,
        size=size,
        base_seed=0,
        structures=np.stack([good, channel]),
        theta=np.array([theta, theta]),
        seed=np.array([3, 4]),
    )
    out = simulate_shard(shard, {"solver": "fv", "interface": "voxel"})
    assert (out.solver, out.interface, out.shard) == ("fv", "voxel", 2)
    assert out.converged[0].all() and np.all((out.eta[0] > 0) & (out.eta[0] < 0.6))
    assert not out.converged[1].any() and np.isnan(out.eta[1]).all()  # y, z do not percolate
    assert out.eta.dtype == np.float64 and out.iterations.dtype == np.int64
