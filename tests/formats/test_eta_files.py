"""Tests of spinodoid.formats.eta_files: the η file round trip and reading incomplete files."""

import h5py
import numpy as np

from spinodoid.formats.eta_files import ETA_FIELDS, ShardEta, read_eta_h5, write_eta_h5


def test_round_trip_keeps_values_dtypes_and_attributes(tmp_path):
    rng = np.random.default_rng(0)
    record = ShardEta(
        eta=rng.random((4, 3)),
        converged=np.array([[True, True, False]] * 4),
        iterations=np.full((4, 3), 120),
        flux_nonuniformity=rng.random((4, 3)) * 1e-5,
        seconds=rng.random((4, 3)),
        solver="lbm",
        interface="subvoxel",
        shard=7,
    )
    write_eta_h5(record, tmp_path / "s.eta.h5")
    back = read_eta_h5(tmp_path / "s.eta.h5")
    for name, dtype in ETA_FIELDS.items():
        np.testing.assert_array_equal(getattr(back, name), getattr(record, name))
        assert getattr(back, name).dtype == np.dtype(dtype)
    assert (back.solver, back.interface, back.shard) == ("lbm", "subvoxel", 7)


def test_missing_datasets_read_as_empty_or_none(tmp_path):
    with h5py.File(tmp_path / "x.eta.h5", "w") as f:
        f["converged"] = np.ones((2, 3), bool)
    back = read_eta_h5(tmp_path / "x.eta.h5")
    assert back.eta.shape == (0, 3) and back.iterations is None and back.solver == ""
    assert back.converged.shape == (2, 3)
