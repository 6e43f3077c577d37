"""η of every structure of a shard, and the policy for failed solves (rule ``simulate``).

Each structure is solved along x, y and z in one batched call (docs/method.md §3). A structure
whose solve fails (not converged, disconnected) is flagged, with ``converged`` False and η NaN,
and logged rather than ending the job, so the rest of the shard is kept and
:func:`spinodoid.formats.dataset.assemble_dataset` refuses it by name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from tqdm import tqdm

from spinodoid.formats.eta_files import ETA_FIELDS, ShardEta
from spinodoid.formats.shards import Shard
from spinodoid.solvers.diffusivity import DiffusivityError, effective_diffusivity_xyz
from spinodoid.structures.grf import level_set

__all__ = ["simulate_shard"]

log = logging.getLogger(__name__)


def simulate_shard(shard: Shard, settings: Mapping[str, Any]) -> ShardEta:
    """Solve η along x, y, z for every structure of ``shard``.

    Args:
        shard: a shard with its structures loaded (:func:`spinodoid.formats.shards.read_shard_h5`).
        settings: the config's ``simulate`` section (``solver``, ``interface``, ``arch``, …),
            passed on to :func:`spinodoid.solvers.diffusivity.effective_diffusivity_xyz`. With
            ``interface: subvoxel`` the level set Ψ − T is regenerated from θ and the seed.

    Returns:
        The η file's contents; failed structures have η NaN and ``converged`` False.
    """
    params = dict(settings)
    n = len(shard.seed)
    out = {name: np.zeros((n, 3)) for name in ETA_FIELDS}
    for k in tqdm(range(n), desc="simulate", mininterval=10):
        psi = None
        if params["interface"] == "subvoxel":  # regenerate Ψ − T; the dispatcher checks it
            psi = level_set(shard.theta[k], int(shard.seed[k]), shard.size)
        try:
            results = effective_diffusivity_xyz(shard.structures[k], level_set=psi, **params)
        except DiffusivityError as error:
            log.error("structure %d/%d flagged: %s", k + 1, n, error)
            out["eta"][k] = np.nan
            continue
        for name in ETA_FIELDS:
            out[name][k] = [getattr(r, name) for r in results]
        log.info("structure %d/%d: eta %s", k + 1, n, np.round(out["eta"][k], 5))
    return ShardEta(
        **{name: out[name].astype(dtype) for name, dtype in ETA_FIELDS.items()},
        solver=params["solver"],
        interface=params["interface"],
        shard=shard.index,
    )
