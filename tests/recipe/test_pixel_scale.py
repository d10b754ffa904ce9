"""The split-half factor on the Cramer-Rao bound (recipe/pixel_scale.py), on synthetic halves with
a known excess scatter per group."""

from __future__ import annotations

import numpy as np
import pytest

from snapcal_core.recipe.pixel import PixelCalibrationResult
from snapcal_core.recipe.pixel_scale import scaled_uncertainty, split_half_scale


def _half(difc: np.ndarray, bound: np.ndarray, use: np.ndarray) -> PixelCalibrationResult:
    n = difc.size
    return PixelCalibrationResult(difc=difc, use=use.astype(np.int32), difc_uncertainty=bound.copy(),
                                  statistical_bound=bound, offsets_bins=np.zeros(n), counts_in_windows=np.ones(n))


def _halves(excess: dict[int, float], *, n_per_group: int = 3000, seed: int = 5, jumps: int = 0):
    """Two halves whose offsets scatter ``excess[g]`` times their bounds; a common DIFC per group
    shifted between the halves (the std is taken about the group's median); ``jumps`` pixels far off."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.array(sorted(excess)), n_per_group)
    bound_a = rng.uniform(1e-4, 3e-4, group.size)
    bound_b = bound_a * rng.uniform(0.8, 1.25, group.size)
    factor = np.array([excess[g] for g in group])
    truth = 1000.0 * (1 + rng.normal(0, 1e-3, group.size))
    a = truth * np.exp(factor * bound_a * rng.standard_normal(group.size) + 2e-5 * group)
    b = truth * np.exp(factor * bound_b * rng.standard_normal(group.size))
    if jumps:
        a[rng.choice(group.size, jumps, replace=False)] *= 1.05
    use = np.ones(group.size, bool)
    return (_half(a, bound_a, use), _half(b, bound_b, use)), group


def test_factor_recovers_the_injected_excess_per_group():
    halves, group = _halves({1: 1.0, 2: 1.15, 3: 1.4})
    scale = split_half_scale(halves=halves, group_of_pixel=group, group_ids=[1, 2, 3])
    assert scale.factor[1] == pytest.approx(1.0, abs=0.04)
    assert scale.factor[2] == pytest.approx(1.15, abs=0.04)
    assert scale.factor[3] == pytest.approx(1.4, abs=0.05)
    assert scale.n_pixels == {1: 3000, 2: 3000, 3: 3000}


def test_a_few_jumped_pixels_do_not_move_the_factor():
    halves, group = _halves({1: 1.1}, jumps=30)
    assert split_half_scale(halves=halves, group_of_pixel=group, group_ids=[1]).factor[1] == pytest.approx(1.1, abs=0.04)


def test_masked_pixels_are_left_out_and_a_small_group_gets_factor_one():
    halves, group = _halves({1: 1.3, 2: 1.3})
    halves[0].use[group == 2] = 0
    halves[0].use[np.flatnonzero(group == 2)[:10]] = 1  # 10 pixels: too few for a factor of their own
    scale = split_half_scale(halves=halves, group_of_pixel=group, group_ids=[1, 2])
    assert scale.factor[1] == pytest.approx(1.3, abs=0.05)
    assert scale.factor[2] == 1.0 and scale.n_pixels[2] == 10


def test_uncertainty_is_the_bound_times_the_factor_never_below_the_bound():
    halves, group = _halves({1: 1.2, 2: 0.9})
    scale = split_half_scale(halves=halves, group_of_pixel=group, group_ids=[1, 2])
    bound = np.where(group == 1, 2e-4, 1e-4)
    bound[0] = np.nan
    sigma = scaled_uncertainty(bound=bound, group_of_pixel=group, scale=scale)
    assert np.isnan(sigma[0])
    assert sigma[group == 1][1:] == pytest.approx(2e-4 * scale.factor[1])
    assert scale.factor[2] < 1.0 and np.all(sigma[group == 2] == 1e-4)  # floored at the bound


def test_factor_per_count_bin_follows_an_excess_that_grows_with_the_counts():
    rng = np.random.default_rng(8)
    n = 5000
    group = np.ones(n, np.int32)
    counts = rng.uniform(100, 1000, n)
    bound_a = bound_b = 0.01 / np.sqrt(counts)
    excess = np.where(counts < 550, 1.0, 1.3)
    truth = 1000.0 * (1 + rng.normal(0, 1e-3, n))
    use = np.ones(n, bool)
    halves = (_half(truth * np.exp(excess * bound_a * rng.standard_normal(n)), bound_a, use),
              _half(truth * np.exp(excess * bound_b * rng.standard_normal(n)), bound_b, use))
    scale = split_half_scale(halves=halves, group_of_pixel=group, group_ids=[1], counts=counts)
    assert scale.bin_factor[1].size == 10  # 5000 pixels: 10 bins of 500
    assert np.allclose(scale.bin_factor[1][:4], 1.0, atol=0.08) and np.allclose(scale.bin_factor[1][-4:], 1.3, atol=0.1)
    sigma = scaled_uncertainty(bound=np.full(n, 1e-4), group_of_pixel=group, scale=scale, counts=counts)
    assert np.median(sigma[counts < 400]) == pytest.approx(1e-4, rel=0.08)
    assert np.median(sigma[counts > 700]) == pytest.approx(1.3e-4, rel=0.1)
    assert scale.factor[1] == pytest.approx(np.sqrt((1 + 1.3**2) / 2), abs=0.05)  # the group's over all bins
