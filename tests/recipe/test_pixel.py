"""Pixel cross-correlation loop on synthetic events with a known per-pixel truth."""

import numpy as np
import pytest

from snapcal_core.calibrant.types import GroupPeakList, PredictedPeak
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe.faulty import FaultySettings, MaskReason
from snapcal_core.recipe.pixel import PixelCalibrationSettings, calibrate_pixels
from snapcal_core.recipe.pixel_kernels import sort_by_pixel, window_histograms

D_PEAKS = (0.9, 1.26, 2.06)
DD = 0.003  # dd/d of every group


def synthetic(seed=0, n_groups=3, per_group=200, events_per_pixel=600, scatter=1e-3, dead=()):
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    group = np.repeat(np.arange(1, n_groups + 1), per_group).astype(np.int32)
    difc_geo = np.repeat(np.linspace(4000, 6500, n_groups), per_group)
    truth = difc_geo * (1 + rng.normal(0, scatter, n))
    counts = np.full(n, events_per_pixel)
    counts[list(dead)] = 0
    pixel = np.repeat(np.arange(n), counts).astype(np.uint32)
    d = rng.choice(D_PEAKS, pixel.size) * (1 + rng.normal(0, 0.5 * DD, pixel.size))
    tof = truth[pixel] * d
    bg = rng.random(pixel.size) < 0.2
    tof[bg] = truth[pixel[bg]] * rng.uniform(0.8, 2.3, bg.sum())
    peaks = [GroupPeakList(group_id=g, peaks=[PredictedPeak(
        d_angstrom=p, d_min_angstrom=p * (1 - 2.5 * DD), d_max_angstrom=p * (1 + 2.5 * DD),
        fwhm_angstrom=1.17741 * DD * p, intensity=1.0) for p in D_PEAKS]) for g in range(1, n_groups + 1)]
    table = DiffCalTable.from_difc(difc_geo, group=group)
    return pixel, tof.astype(np.float32), group, peaks, table, truth


def relative_error(result, truth, group):
    err = np.full(truth.shape, np.nan)
    for g in np.unique(group):
        sel = (group == g) & (result.use > 0)
        r = result.difc[sel] / truth[sel]
        err[sel] = r / r.mean() - 1
    return err


def test_loop_recovers_relative_difc_with_honest_uncertainties():
    pixel, tof, group, peaks, table, truth = synthetic()
    result = calibrate_pixels(pixel=pixel, tof_us=tof, group_of_pixel=group, peaks=peaks, table=table)
    assert len(result.iterations) <= 5 and result.iterations[0].median_abs_offset_bins > 1.0
    err = relative_error(result, truth, group)
    before = np.std(table.difc / truth / np.mean(table.difc / truth) - 1)
    assert np.nanstd(err) < before / 3
    pull = err / result.difc_uncertainty
    assert 0.7 < np.nanstd(pull) < 1.5
    assert np.nanstd(err) < 1.6 * np.sqrt(np.nanmean(result.statistical_bound**2))


def test_dead_pixels_are_masked_as_dead_before_the_loop_and_do_not_count_as_failed_fits():
    pixel, tof, group, peaks, table, truth = synthetic(dead=(3, 250))
    result = calibrate_pixels(pixel=pixel, tof_us=tof, group_of_pixel=group, peaks=peaks, table=table)
    assert result.use[3] == 0 and result.use[250] == 0 and result.use.sum() == 598
    assert result.mask_reason[3] == result.mask_reason[250] == MaskReason.DEAD
    assert np.count_nonzero(result.mask_reason) == 2
    pixel, tof, group, peaks, table, truth = synthetic(dead=tuple(range(0, 600, 5)))
    result = calibrate_pixels(pixel=pixel, tof_us=tof, group_of_pixel=group, peaks=peaks, table=table)
    assert np.count_nonzero(result.mask_reason == MaskReason.DEAD) == 120 and result.use.sum() == 480


def test_pixels_without_events_for_an_offset_are_masked_as_low_counts_and_the_loop_runs_on():
    """Dead pixels the screening is told not to look for: they have too few events for an offset, so
    they are masked as low_counts, not as failed fits (SNAPRed's 15 % rule, which counts both, is
    the quality gate's, not an error here)."""
    pixel, tof, group, peaks, table, truth = synthetic(dead=tuple(range(0, 600, 5)))
    no_screen = PixelCalibrationSettings(faulty=FaultySettings(detect=False))
    result = calibrate_pixels(pixel=pixel, tof_us=tof, group_of_pixel=group, peaks=peaks, table=table,
                              settings=no_screen)
    assert np.count_nonzero(result.mask_reason == MaskReason.LOW_COUNTS) == 120 and result.use.sum() == 480
    assert not (result.mask_reason == MaskReason.FAILED_FIT).any()


def test_a_pixel_with_events_whose_fit_fails_is_a_failed_fit_not_low_counts():
    pixel, tof, group, peaks, table, truth = synthetic()
    table.difc[7] *= 1.05  # far beyond the search range: its offset runs off and it is masked
    no_screen = PixelCalibrationSettings(faulty=FaultySettings(detect=False))  # (the screen finds it noisy)
    result = calibrate_pixels(pixel=pixel, tof_us=tof, group_of_pixel=group, peaks=peaks, table=table,
                              settings=no_screen)
    assert result.use[7] == 0 and result.mask_reason[7] == MaskReason.FAILED_FIT


def test_far_off_pixel_is_masked():
    pixel, tof, group, peaks, table, truth = synthetic()
    table.difc[7] *= 1.05  # 5 % off: far beyond 10 bins of 3e-4
    result = calibrate_pixels(pixel=pixel, tof_us=tof, group_of_pixel=group, peaks=peaks, table=table,
                              settings=PixelCalibrationSettings(max_iterations=2))
    assert result.use[7] == 0


def test_window_histograms_equal_numpy_histograms():
    rng = np.random.default_rng(5)
    pixel = rng.integers(0, 4, 5000).astype(np.uint32)
    tof = rng.uniform(4000, 6000, 5000).astype(np.float32)
    difc = np.array([5000.0, 5010.0, 4990.0, 5000.0])
    sorted_tof, start, _ = sort_by_pixel(pixel, tof, 4)
    step = 1e-3
    lo = np.array([[np.log(0.9), np.log(1.1)]])
    nb = np.array([[50, 40]])
    off = np.array([[0, 50]])
    row_group = np.zeros(4, np.int64)
    hist = window_histograms(sorted_tof, start[:-1], start[1:], row_group, difc, np.zeros(4), np.zeros(4), np.array([5000.0]),
                             np.array([[0.95, 1.15]]), lo, nb, off, np.array([2]), 1 / step, 90)
    for p in range(4):
        d = tof[pixel == p].astype(np.float64) / difc[p]
        stretch = difc[p] / 5000.0
        for w, (centre, n, o) in enumerate(((0.95, 50, 0), (1.15, 40, 50))):
            dd = centre + (d - centre) * stretch
            edges = np.exp(lo[0, w] + step * np.arange(n + 1))
            expected, _ = np.histogram(dd, bins=edges)
            np.testing.assert_array_equal(hist[p, o:o + n], expected)


def _synthetic_pixels(rng, shifts, counts, *, n_windows=3, core=80, pad=12, sigma=4.0, tail=3.0, background=0.2):
    """Histograms of pixels whose asymmetric peaks (Gaussian + exponential tail, flat background)
    sit ``shifts`` bins from the window centres; windows padded by ``pad`` bins as plan_windows does."""
    n = core + 2 * pad
    hist = np.zeros((len(shifts), n_windows * n), np.float32)
    for i, shift in enumerate(shifts):
        m = rng.poisson(counts)
        w = rng.integers(0, n_windows, m)
        x = n / 2 + shift + rng.normal(0, sigma, m) + rng.exponential(tail, m) - tail
        flat = rng.random(m) < background
        x[flat] = rng.uniform(0, n, flat.sum())
        b = np.floor(x).astype(int)
        ok = (b >= 0) & (b < n)
        np.add.at(hist[i], w[ok] * n + b[ok], 1)
    layout = (np.full((1, n_windows), n, np.int64), (np.arange(n_windows) * n)[None, :].astype(np.int64),
              np.array([n_windows], np.int64))
    return hist, layout


@pytest.mark.parametrize(("counts", "max_pull_std"), [(60, 1.3), (600, 1.1), (3000, 1.1)])
def test_likelihood_correlation_is_unbiased_and_reaches_the_counting_bound(counts, max_pull_std):
    """Known sub-bin shifts of asymmetric peaks: the estimate follows the shift with slope 1 (no
    shrinking towards zero), its error matches the Cramer-Rao bound and the reported sigma."""
    from snapcal_core.recipe.pixel_kernels import cross_correlate, group_sums

    rng = np.random.default_rng(7)
    shifts = rng.normal(0.0, 1.0, 2000)
    hist, (nbins, offsets, count) = _synthetic_pixels(rng, shifts, counts)
    row_group, use = np.zeros(len(shifts), np.int64), np.ones(len(shifts), np.int8)
    reference = group_sums(hist, row_group, use, 1)
    offset, sigma, bound, failed = cross_correlate(hist, reference, row_group, use, nbins, offsets, count, 12)
    assert not failed.any()
    estimate, truth = -(offset - offset.mean()), shifts - shifts.mean()
    slope = np.polyfit(truth, estimate, 1)[0]
    error = estimate - truth
    assert slope == pytest.approx(1.0, abs=0.03)
    assert 0.9 < error.std() / np.sqrt(np.mean(bound**2)) < 1.1
    assert 0.9 < np.std(error / sigma) < max_pull_std  # 60 counts: not yet asymptotic (heavier tails)
    fraction = np.histogram(offset % 1.0, bins=5, range=(0, 1))[0] / len(offset)
    assert np.all(np.abs(fraction - 0.2) < 0.03), fraction  # no locking onto whole bins (sparse pixels)
