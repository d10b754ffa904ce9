"""Pixel mixtures of focused peaks (recipe/mixture.py)."""

import numpy as np
import pytest

from snapcal_core.calibrant.types import GroupPeakList, PredictedPeak
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe.mixture import harmonic_difc, peak_mixtures


def _peak(d: float) -> PredictedPeak:
    return PredictedPeak(d_angstrom=d, d_min_angstrom=0.9 * d, d_max_angstrom=1.1 * d, fwhm_angstrom=0.02 * d,
                         intensity=1.0)


def test_each_peak_gets_the_pixels_that_make_it():
    difc = np.array([1000.0, 1100.0, 1200.0, 1300.0, 900.0])
    group = np.array([1, 1, 1, 1, 2], np.int32)
    table = DiffCalTable.from_difc(difc, group=group)
    sigma_rel = np.array([2.0, 1.5, 1.2, 1.0, 1.0])
    # d = 1.0 seen by pixels 0 (100 events) and 3 (300); d = 2.0 by every pixel of group 1 (50 each);
    # events outside a peak's core (d = 1.5) and of another group count for nothing
    pixel = np.r_[np.zeros(100), np.full(300, 3), np.repeat([0, 1, 2, 3], 50), np.full(70, 1), np.full(40, 4)]
    d = np.r_[np.ones(400), np.full(200, 2.0), np.full(70, 1.5), np.ones(40)]
    mixtures = peak_mixtures(pixel=pixel.astype(np.uint32), tof_us=difc[pixel.astype(int)] * d, group_of_pixel=group,
                             table=table, peaks=[GroupPeakList(group_id=1, peaks=[_peak(1.0), _peak(2.0)])],
                             sigma_rel=sigma_rel, n_components=4)
    first, second = mixtures[1]
    assert first.weights == pytest.approx([0.25, 0.75])
    assert first.difc_us_per_angstrom == pytest.approx([1000.0, 1300.0])
    mean_sigma = 0.25 * 2.0 + 0.75 * 1.0
    assert first.width_scale == pytest.approx([2.0 / mean_sigma, 1.0 / mean_sigma])
    assert harmonic_difc(first) == pytest.approx(1.0 / (0.25 / 1000 + 0.75 / 1300))
    assert second.weights == pytest.approx([0.25] * 4) and second.difc_us_per_angstrom == pytest.approx(list(difc[:4]))
    assert 2 not in mixtures


def test_a_peak_without_events_has_no_mixture():
    table = DiffCalTable.from_difc(np.array([1000.0, 1100.0]), group=np.array([1, 1], np.int32))
    mixtures = peak_mixtures(pixel=np.zeros(10, np.uint32), tof_us=np.full(10, 1000.0), group_of_pixel=table.group,
                             table=table, peaks=[GroupPeakList(group_id=1, peaks=[_peak(1.0), _peak(3.0)])],
                             sigma_rel=np.ones(2))
    assert mixtures[1][0] is not None and mixtures[1][1] is None
