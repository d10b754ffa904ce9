import numpy as np
import pytest

from snapcal_core.recipe.peakfit import PeakFitSettings, PeakOutcome, fit_peak
from snapcal_core.recipe.profiles import back_to_back, back_to_back_mixture


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


def _log_binned(density, *, x_lo=5700.0, x_hi=6500.0, step=4e-4):
    """Expected counts of a density in log bins (each bin integrated on a fine grid), at the bin centres."""
    edges = x_lo * (1 + step) ** np.arange(int(np.log(x_hi / x_lo) / np.log1p(step)) + 1)
    fine = np.linspace(0.0, 1.0, 21)
    counts = np.array([np.mean(density(a + (b - a) * fine)) * (b - a) for a, b in zip(edges[:-1], edges[1:])])
    return 0.5 * (edges[:-1] + edges[1:]), counts


def test_onset_in_log_bins_is_not_pulled_by_the_bin_widths():
    """A density in log bins has counts ~ density * x; fitted as a plain density the onset came out
    high by about the profile's variance / x (0.5 us here)."""
    p = np.array([2e5, 6000.0, 0.16, 0.02, 30.0, 0.0, 0.0])
    x, y = _log_binned(lambda t: back_to_back(t, p)[0])
    f = fit_peak(x=x, y=y, variance=np.maximum(y, 1), window=(5800.0, 6400.0), d_ref_angstrom=1.0, sigma_guess=30.0,
                 settings=PeakFitSettings(), beta=0.02)
    assert abs(f.centre - 6000.0) < 0.02, f.centre


def test_mixture_profile_recovers_the_onset_of_a_mixed_peak():
    """Three groups of pixels with different tail rates and widths, one onset: one held B2B is off,
    the mixture of the components is not."""
    w, r, s = np.array([0.3, 0.4, 0.3]), np.array([0.8, 1.0, 1.25]), np.array([1.3, 1.0, 0.75])
    p = np.array([2e5, 6000.0, 0.16, 0.02, 25.0, 0.0, 0.0])
    x, y = _log_binned(lambda t: back_to_back_mixture(t, p, weights=w, rate_scale=r, width_scale=s)[0])
    kw = dict(x=x, y=y, variance=np.maximum(y, 1), window=(5800.0, 6400.0), d_ref_angstrom=1.0, sigma_guess=25.0,
              settings=PeakFitSettings(), beta=0.02)
    single, mixed = fit_peak(**kw), fit_peak(**kw, mixture=(w, r, s))
    assert abs(mixed.centre - 6000.0) < 0.02 < abs(single.centre - 6000.0), (mixed.centre, single.centre)
