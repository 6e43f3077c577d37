"""Tests of spinodoid.structures.grf: determinism, porosity, anisotropy, backends, refinement."""

import hashlib
import math

import numpy as np
import pytest

from spinodoid.hashing import GOLDEN, MASK64, mix64_int
from spinodoid.structures.grf import (
    gaussian_random_field,
    generate_structure,
    generate_structures_torch,
    kth_smallest_torch,
    level_set,
    level_set_torch,
    refine_level_set,
    spectral_density,
    white_noise,
)

THETA = (0.1, 0.15, 0.2, 0.6)


def correlation_length(structure: np.ndarray, axis: int) -> float:
    """Lag (voxels) at which the two-point autocorrelation along ``axis`` falls to 1/2."""
    x = structure.astype(np.float64) - structure.mean()
    power = np.abs(np.fft.rfft(x, axis=axis)) ** 2
    auto = np.fft.irfft(power, n=structure.shape[axis], axis=axis)
    auto = auto.mean(axis=tuple(i for i in range(3) if i != axis))
    auto /= auto[0]
    k = int(np.argmax(auto < 0.5))
    return k - 1 + (auto[k - 1] - 0.5) / (auto[k - 1] - auto[k])


def test_same_theta_and_seed_give_identical_bytes():
    first = generate_structure(THETA, 7, 48)
    second = generate_structure(THETA, 7, 48)
    assert first.dtype == np.uint8 and first.shape == (48, 48, 48)
    assert first.tobytes() == second.tobytes()


def test_different_seed_gives_a_different_structure():
    assert not np.array_equal(generate_structure(THETA, 7, 48), generate_structure(THETA, 8, 48))


def test_structure_is_pinned_across_machines():
    """The digest below was computed once; any machine must reproduce it bit for bit."""
    digest = hashlib.sha256(generate_structure(THETA, 12345, 32).tobytes()).hexdigest()
    assert digest == "07cbc621827d7ed82339c9abe4835e63278bae94510beb5210859e41a5bbeb65"
    noise = white_noise(12345, 4).ravel()[:4]
    np.testing.assert_array_equal(
        noise, np.array([-2.875165, -0.15886562, 0.79445994, -0.86680436], dtype=np.float32)
    )


def test_white_noise_pairs_across_a_chunk_boundary_follow_the_counter():
    """Pairs j = 2^16 − 1, 2^16, 2^16 + 1 (either side of the first chunk boundary) are the
    Box–Muller draw of splitmix64(key(seed) + (j + 1)·golden), computed here one by one."""
    seed, noise = 9, white_noise(9, 64).reshape(-1, 2)
    key = mix64_int((seed + GOLDEN) & MASK64)
    for j in (2**16 - 1, 2**16, 2**16 + 1):
        bits = mix64_int((key + (j + 1) * GOLDEN) & MASK64)
        radius = math.sqrt(-2.0 * math.log(((bits >> 32) + 0.5) / 2**32))
        angle = 2.0 * math.pi * ((bits & 0xFFFFFFFF) + 0.5) / 2**32
        expected = [radius * math.cos(angle), radius * math.sin(angle)]
        np.testing.assert_allclose(noise[j], expected, rtol=1e-6, atol=1e-6)


def test_white_noise_is_standard_normal_and_uncorrelated():
    noise = white_noise(3, 64).astype(np.float64).ravel()
    assert abs(noise.mean()) < 4 / np.sqrt(noise.size)
    assert abs(noise.var() - 1) < 0.01
    lag_one = np.mean(noise[:-1] * noise[1:])
    assert abs(lag_one) < 4 / np.sqrt(noise.size)
    fourth = np.mean(noise**4)
    assert abs(fourth - 3) < 0.05  # Gaussian kurtosis


@pytest.mark.parametrize("eps", [0.3, 0.5, 0.6667, 0.85])
@pytest.mark.parametrize("size", [31, 64])
def test_porosity_within_one_voxel_of_eps(eps, size):
    structure = generate_structure((0.08, 0.12, 0.2, eps), 1, size)
    porosity = 1 - structure.mean()
    assert abs(porosity - eps) <= 0.5 / size**3 + 1e-12


def test_level_set_sign_defines_the_structure_and_field_has_unit_variance():
    field = gaussian_random_field(THETA[:3], 5, 64)
    assert abs(field.std() - 1) < 0.1
    psi = level_set(THETA, 5, 64)
    np.testing.assert_array_equal((psi >= 0).view(np.uint8), generate_structure(THETA, 5, 64))


def test_anisotropy_follows_the_length_scales():
    """Two-point correlation lengths scale with a: ratios within 15 % of the a ratios."""
    a = (0.05, 0.1, 0.15)
    lengths = np.mean(
        [
            [correlation_length(generate_structure((*a, 0.5), s, 128), i) for i in range(3)]
            for s in range(2)
        ],
        axis=0,
    )
    np.testing.assert_allclose(lengths / lengths[0], np.array(a) / a[0], rtol=0.15)
    assert lengths[0] < lengths[1] < lengths[2]


def test_spectral_density_matches_eq3():
    gamma = spectral_density((0.1, 0.2, 0.3), 16)
    assert gamma[0, 0, 0] == 1.0
    s = (0.1 * 2) ** 2 + (0.2 * -3) ** 2 + (0.3 * 5) ** 2
    assert gamma[2, -3, 5] == pytest.approx((1 + s**4) ** -2)


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError, match="porosity"):
        generate_structure((0.1, 0.1, 0.1, 1.2), 0, 16)
    with pytest.raises(ValueError, match="length scales"):
        generate_structure((0.1, -0.1, 0.1, 0.5), 0, 16)
    with pytest.raises(ValueError, match="seed"):
        generate_structure(THETA, -1, 16)


def test_torch_backend_matches_numpy_except_near_the_threshold():
    thetas = np.array([THETA, (0.2, 0.1, 0.08, 0.45)])
    seeds = [11, 12]
    fields = level_set_torch(thetas, seeds, 64, "cpu").numpy()
    voxels = generate_structures_torch(thetas, seeds, 64, "cpu").numpy()
    for b in range(2):
        reference = level_set(thetas[b], seeds[b], 64)
        np.testing.assert_allclose(fields[b], reference, atol=5e-5)
        differ = voxels[b] != generate_structure(thetas[b], seeds[b], 64)
        near_threshold = np.abs(reference) < 5e-5
        assert np.all(near_threshold[differ])
        assert differ.sum() <= near_threshold.sum() and differ.sum() < 10


def _rows_to_select_from(generator) -> list:
    """Rows that stress an exact select: Gaussian, heavy ties, constant, a tiny span, one value."""
    import torch

    return [
        torch.randn(3, 4000, generator=generator),
        torch.randint(-3, 4, (2, 777), generator=generator).float(),
        torch.full((2, 500), 1.5),
        torch.randn(2, 1000, generator=generator) * 1e-30,
        torch.randn(1, 1, generator=generator),
    ]


def _check_kth_smallest(device: str) -> None:
    import torch

    generator = torch.Generator().manual_seed(0)
    for values in _rows_to_select_from(generator):
        rows, n = values.shape
        for rank in (
            torch.zeros(rows, dtype=torch.int64),
            torch.full((rows,), n - 1),
            torch.randint(0, n, (rows,), generator=generator),
        ):
            want = values.sort(dim=1).values.gather(1, rank[:, None])[:, 0]
            got = kth_smallest_torch(values.to(device), rank.to(device)).cpu()
            assert torch.equal(got, want), (values[:, :4], rank)


def test_kth_smallest_equals_the_sorted_rows():
    _check_kth_smallest("cpu")


def test_torch_threshold_gives_the_exact_porosity():
    fields = level_set_torch(np.array([THETA, (0.2, 0.1, 0.08, 0.45)]), [3, 4], 48, "cpu")
    pores = (fields < 0).reshape(2, -1).sum(dim=1).tolist()
    assert pores == [round(THETA[3] * 48**3), round(0.45 * 48**3)]


def test_refined_level_set_interpolates_the_coarse_samples():
    coarse = level_set(THETA, 2, 24)
    fine = refine_level_set(coarse, 2)
    assert fine.shape == (48, 48, 48)
    np.testing.assert_allclose(fine[::2, ::2, ::2], coarse, atol=1e-5)
    porosity_change = abs((fine < 0).mean() - (coarse < 0).mean())
    assert porosity_change < 0.02


@pytest.mark.cuda
def test_cuda_backend_matches_numpy_except_near_the_threshold():
    thetas = np.array([THETA, (0.2, 0.1, 0.08, 0.45)])
    seeds = [11, 12]
    voxels = generate_structures_torch(thetas, seeds, 96, "cuda").cpu().numpy()
    for b in range(2):
        reference = level_set(thetas[b], seeds[b], 96)
        differ = voxels[b] != (reference >= 0)
        assert np.all(np.abs(reference[differ]) < 5e-5)
        assert differ.sum() < 20


@pytest.mark.cuda
def test_cuda_kth_smallest_equals_the_sorted_rows():
    _check_kth_smallest("cuda")
