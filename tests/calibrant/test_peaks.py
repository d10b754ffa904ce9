import numpy as np
import pytest

from snapcal_core.calibrant.peaks import PeakSettings, peak_window, predicted_peaks
from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.errors import PeakListError
from snapcal_core.instrument.types import GroupParameters

GROUP = GroupParameters(group_id=3, n_pixels=10, two_theta_rad=np.deg2rad(90.0), two_theta_deg=90.0, l2_m=0.5,
                        delta_d_over_d=0.004, d_min_angstrom=0.5, d_max_angstrom=3.0, difc_us_per_angstrom=5500.0)


def refl(d, f2=10.0, m=8):
    return Reflection(d_angstrom=d, f2_barn=f2, multiplicity=m, hkl=((1, 1, 1),))


def test_window_follows_snapred_formula():
    fwhm, lo, hi = peak_window(d_angstrom=1.0, group=GROUP, left=1.5, right=1.5)
    assert fwhm == pytest.approx(2.35482 * 0.5 * 0.004)
    beta_d = 505.5568 * 15.5 * np.sin(np.deg2rad(45.0)) * (0.02 + 0.05)
    assert lo == pytest.approx(1.0 - 1.5 * fwhm, rel=1e-12)
    assert hi == pytest.approx(1.0 + 1.5 * fwhm + 2.0 / beta_d, rel=1e-5)


def test_overlapping_pairs_are_both_dropped_and_weak_peaks_too():
    peaks = predicted_peaks(reflections=[refl(2.0), refl(1.5), refl(1.501), refl(1.2), refl(1.0, f2=0.01)], group=GROUP)
    assert [round(p.d_angstrom, 3) for p in peaks.peaks] == [1.2, 2.0]


def test_peaks_outside_the_group_range_are_dropped():
    peaks = predicted_peaks(reflections=[refl(2.99), refl(2.0), refl(1.0, f2=160.0), refl(0.5)], group=GROUP)
    assert [p.d_angstrom for p in peaks.peaks] == [1.0, 2.0]  # 2.99's window and 0.5's window leave the range


def test_too_few_peaks_names_the_group_and_why():
    with pytest.raises(PeakListError, match=r"group 3: only 1 predicted peak.*1 outside d range"):
        predicted_peaks(reflections=[refl(2.0), refl(5.0)], group=GROUP)
    with pytest.raises(PeakListError, match="need 3"):
        predicted_peaks(reflections=[refl(2.0), refl(1.0)], group=GROUP, settings=PeakSettings(min_peaks=3))
