import numpy as np
import pytest

from snapcal_core.recipe.peakfit import PeakFitSettings, PeakOutcome, fit_peak
from snapcal_core.recipe.profiles import back_to_back


def b2b_spectrum(rng, area=3000.0, x0=6000.0, sigma=10.0, beta=0.03, bg=4.0):
    x = np.arange(5850.0, 6300.0, 2.0)
    lam = back_to_back(x, np.array([area * 2.0, x0, 8 * beta, beta, sigma, bg, 0.0]))[0]
    return x, rng.poisson(lam).astype(float)


def test_b2b_fit_recovers_the_onset_with_honest_errors():
    pulls = []
    for seed in range(40):
        x, y = b2b_spectrum(np.random.default_rng(seed))
        f = fit_peak(x=x, y=y, variance=np.maximum(y, 1), window=(5860.0, 6290.0), d_ref_angstrom=1.0,
                     sigma_guess=12.0, settings=PeakFitSettings(), beta=0.03)
        assert f.outcome is PeakOutcome.ACCEPTED, f
        pulls.append((f.centre - 6000.0) / f.centre_error)
    assert abs(np.mean(pulls)) < 0.5
    assert 0.7 < np.std(pulls) < 1.4


def test_gaussian_fit_and_its_sigma():
    rng = np.random.default_rng(1)
    x = np.linspace(0.9, 1.1, 400)
    y = rng.poisson(500 * np.exp(-0.5 * ((x - 1.002) / 0.004) ** 2) + 10).astype(float)
    f = fit_peak(x=x, y=y, variance=np.maximum(y, 1), window=(0.95, 1.05), d_ref_angstrom=1.0, sigma_guess=0.005,
                 settings=PeakFitSettings(profile="gaussian"))
    assert f.accepted and abs(f.centre - 1.002) < 3 * f.centre_error
    assert f.sigma == pytest.approx(0.004, rel=0.05)


def test_failed_peaks_are_values_with_reasons():
    rng = np.random.default_rng(2)
    x, y = b2b_spectrum(rng, area=5.0)
    f = fit_peak(x=x, y=y, variance=np.maximum(y, 1), window=(5860.0, 6290.0), d_ref_angstrom=1.0, sigma_guess=12.0,
                 settings=PeakFitSettings(), beta=0.03)
    assert f.outcome in (PeakOutcome.TOO_FEW_COUNTS, PeakOutcome.HEIGHT_TOO_LOW) and not f.accepted
    x, y = b2b_spectrum(rng, x0=6200.0)
    f = fit_peak(x=x, y=y, variance=np.maximum(y, 1), window=(5860.0, 6100.0), d_ref_angstrom=1.0, sigma_guess=12.0,
                 settings=PeakFitSettings(), beta=0.03)
    assert not f.accepted
    f = fit_peak(x=x[:5], y=y[:5], variance=y[:5], window=(5850.0, 5860.0), d_ref_angstrom=1.0, sigma_guess=12.0,
                 settings=PeakFitSettings(), beta=0.03)
    assert f.outcome is PeakOutcome.TOO_FEW_COUNTS and np.isnan(f.centre)
