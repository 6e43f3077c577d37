"""Tests of spinodoid.hashing: SplitMix64 known values, and numpy, int and torch agreeing."""

import numpy as np
import pytest

from spinodoid.hashing import GOLDEN, MASK64, as_signed, mix64_inplace, mix64_int, splitmix64

# The first outputs of SplitMix64 seeded with 0 (Steele, Lea & Flood; Vigna's reference code).
FIRST_OUTPUTS = (0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F)


def test_known_outputs_of_the_generator():
    state = np.array([0], dtype=np.uint64)
    for expected in FIRST_OUTPUTS:
        assert int(splitmix64(state)[0]) == expected
        state = state + np.uint64(GOLDEN)
    assert mix64_int(GOLDEN) == FIRST_OUTPUTS[0]


def test_numpy_in_place_and_int_agree():
    words = np.random.default_rng(1).integers(0, 2**64, 1000, dtype=np.uint64)
    mixed = mix64_inplace(words.copy())
    assert [int(v) for v in mixed] == [mix64_int(int(v)) for v in words]
    assert all(0 <= mix64_int(int(v)) <= MASK64 for v in words)


def test_torch_agrees_bit_for_bit():
    torch = pytest.importorskip("torch")
    from spinodoid.hashing import mix64_torch

    words = np.random.default_rng(2).integers(0, 2**64, 1000, dtype=np.uint64)
    signed = torch.tensor([as_signed(int(v)) for v in words], dtype=torch.int64)
    got = mix64_torch(signed).numpy().view(np.uint64)
    np.testing.assert_array_equal(got, mix64_inplace(words.copy()))
