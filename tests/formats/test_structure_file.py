"""Tests of spinodoid.formats.structure_file: round trips of the file types `spinodoid generate`
writes."""

import numpy as np
import pytest

from spinodoid.formats.structure_file import StructureFileError, load_structure, save_structure
from spinodoid.structures.grf import generate_structure, level_set

THETA = (0.1, 0.15, 0.2, 0.6)


def test_npy_round_trip(tmp_path):
    voxels = generate_structure(THETA, 1, 24)
    save_structure(tmp_path / "s.npy", voxels)
    loaded = load_structure(tmp_path / "s.npy")
    np.testing.assert_array_equal(loaded.voxels, voxels)
    assert loaded.theta is None and loaded.level_set is None


def test_h5_keeps_theta_and_seed_and_regenerates_the_level_set(tmp_path):
    voxels = generate_structure(THETA, 1, 24)
    save_structure(tmp_path / "s.h5", voxels, theta=THETA, seed=1)
    loaded = load_structure(tmp_path / "s.h5")
    np.testing.assert_array_equal(loaded.voxels, voxels)
    assert loaded.theta == pytest.approx(THETA) and loaded.seed == 1
    np.testing.assert_array_equal(loaded.level_set, level_set(THETA, 1, 24))


def test_h5_with_voxels_that_do_not_match_theta_is_refused(tmp_path):
    voxels = generate_structure(THETA, 1, 24)
    save_structure(tmp_path / "s.h5", voxels, theta=THETA, seed=2)
    with pytest.raises(StructureFileError, match="differs"):
        _ = load_structure(tmp_path / "s.h5").level_set


def test_float_npy_is_a_level_set(tmp_path):
    field = level_set(THETA, 3, 16)
    np.save(tmp_path / "f.npy", field)
    loaded = load_structure(tmp_path / "f.npy")
    np.testing.assert_array_equal(loaded.voxels, (field >= 0).astype(np.uint8))
    np.testing.assert_array_equal(loaded.level_set, field)


@pytest.mark.parametrize(
    ("array", "message"),
    [(np.zeros((4, 4, 5), np.uint8), "cubic"), (np.full((4, 4, 4), 3, np.uint8), "0 \\(pore\\)")],
)
def test_bad_arrays_are_refused(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(StructureFileError, match=message):
        load_structure(tmp_path / "bad.npy")


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(StructureFileError, match="unknown"):
        save_structure(tmp_path / "s.raw", np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(StructureFileError, match="no such file"):
        load_structure(tmp_path / "missing.npy")
