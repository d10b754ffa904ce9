"""The instrument's peak-tail law, the one the simulator, the peak windows and the peak fits share."""

import numpy as np
import pytest

from snapcal_core.calibrant.peaks import peak_window
from snapcal_core.instrument.resolution import ALPHA_OVER_BETA, b2b_beta_per_us
from snapcal_core.instrument.types import GroupParameters
from snapcal_core.recipe.peakfit import PeakFitSettings


def test_tail_law_is_science_md_and_keeps_floats_floats():
    assert b2b_beta_per_us(d_angstrom=1.0) == pytest.approx(0.07, rel=1e-15)
    assert isinstance(b2b_beta_per_us(d_angstrom=2.0), float)
    d = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(b2b_beta_per_us(d_angstrom=d), 0.02 + 0.05 / d**4, rtol=1e-15)


def test_peak_window_tail_and_fit_rise_follow_the_law():
    group = GroupParameters(group_id=1, n_pixels=1, two_theta_rad=np.pi / 2, two_theta_deg=90.0, l2_m=0.5,
                            delta_d_over_d=0.004, d_min_angstrom=0.5, d_max_angstrom=3.0, difc_us_per_angstrom=5500.0)
    for d in (0.7, 1.3):
        _, _, hi = peak_window(d_angstrom=d, group=group, left=0.0, right=0.0)
        difc = 505.5568 * 15.5 * np.sin(np.pi / 4)
        assert hi - d == pytest.approx(2.0 / (difc * b2b_beta_per_us(d_angstrom=d)), rel=1e-6)
    assert PeakFitSettings().alpha_over_beta == ALPHA_OVER_BETA == 8.0
