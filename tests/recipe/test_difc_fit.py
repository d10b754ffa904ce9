"""DIFC/TZERO/DIFA fits, including Mantid's PDCalibration acceptance case (SCIENCE.md)."""

import numpy as np
import pytest

from snapcal_core.calibrant.types import PredictedPeak
from snapcal_core.recipe.difc_fit import DifcOutcome, FitMode, combine_with_previous, fit_difc, fit_difc_from_peaks
from snapcal_core.recipe.peakfit import PeakFitSettings, fit_peaks

PEAK_TOFS = 1636.5 + 1636.0 * np.arange(9)  # 1636.5 ... 14724.5 us, as in Mantid's test


def bank_spectrum(difc_geometric, seed, tzero=0.0, noise=False):
    """One pixel of the 100-pixel test bank: Gaussian peaks at the same TOFs in every pixel
    (noise-free as in Mantid's test, or with Poisson noise)."""
    rng = np.random.default_rng(seed)
    tof = np.arange(1000.0, 16000.0, 1.0)
    y = np.full(tof.shape, 5.0)
    for t in PEAK_TOFS:
        y += 2000.0 * np.exp(-0.5 * ((tof - t) / (0.004 * t)) ** 2)
    y = rng.poisson(y).astype(float) if noise else y
    d_ref = (PEAK_TOFS - tzero) / 5362.24
    peaks = [PredictedPeak(d_angstrom=d, d_min_angstrom=d * 0.97, d_max_angstrom=d * 1.03, fwhm_angstrom=0.0094 * d,
                           intensity=1.0) for d in d_ref]
    fits = fit_peaks(x=tof, y=y, variance=np.maximum(y, 1), peaks=peaks,
                     settings=PeakFitSettings(profile="gaussian", max_chi2=5), x_per_angstrom=difc_geometric,
                     difc_us_per_angstrom=difc_geometric)
    return fits


@pytest.mark.parametrize("detid,difc_geometric", [(155, 5362.24), (195, 5405.21)])
def test_pdcalibration_difc_case(detid, difc_geometric):
    fits = bank_spectrum(difc_geometric, seed=detid)
    assert all(f.accepted for f in fits)
    result = fit_difc_from_peaks(fits, mode=FitMode.DIFC)
    assert result.outcome is DifcOutcome.ACCEPTED
    assert result.difc == pytest.approx(5362.24, abs=0.01)
    assert result.tzero == 0.0 and result.difa == 0.0


def test_noisy_bank_pixel_gives_difc_within_three_sigma():
    result = fit_difc_from_peaks(bank_spectrum(5405.21, seed=11, noise=True), mode=FitMode.DIFC)
    assert abs(result.difc - 5362.24) < 3 * result.difc_error < 0.1


def test_pdcalibration_difc_tzero_case():
    fits = bank_spectrum(5362.24, seed=7, tzero=20.0)
    result = fit_difc_from_peaks(fits, mode=FitMode.DIFC_TZERO)
    assert result.difc == pytest.approx(5362.24, abs=0.1)
    assert result.tzero == pytest.approx(20.0, abs=0.1)


def test_difa_is_recovered_with_its_error():
    rng = np.random.default_rng(3)
    d = np.linspace(0.5, 3.0, 12)
    err = np.full(d.size, 0.2)
    tof = 2.5 * d**2 + 5000.0 * d + 12.0 + rng.normal(0, 0.2, d.size)
    r = fit_difc(d_ref_angstrom=d, tof_us=tof, tof_error_us=err, mode=FitMode.DIFC_TZERO_DIFA)
    assert abs(r.difa - 2.5) < 3 * r.difa_error and abs(r.tzero - 12.0) < 3 * r.tzero_error
    assert abs(r.difc - 5000.0) < 3 * r.difc_error


def test_too_few_peaks_is_an_outcome_not_an_exception():
    r = fit_difc(d_ref_angstrom=[1.0], tof_us=[5000.0], tof_error_us=[1.0], mode=FitMode.DIFC_TZERO)
    assert r.outcome is DifcOutcome.TOO_FEW_PEAKS and np.isnan(r.difc)


def test_combination_with_previous_constants_is_exact():
    prev = np.array([5000.0, 5100.0])
    fit = fit_difc(d_ref_angstrom=[1.0, 2.0, 3.0], tof_us=[5010.0, 10010.0, 15010.0], tof_error_us=[1, 1, 1],
                   mode=FitMode.DIFC_TZERO)
    difc, difa, tzero = combine_with_previous(fit=fit, difc_arb=5000.0, difc_prev=prev, difa_prev=np.zeros(2),
                                              tzero_prev=np.zeros(2))
    # a pixel event at TOF focuses to x = 5000 * TOF / DIFC_prev; the fit says x = 5000 d + 10
    for p in range(2):
        d = 1.7
        tof = difc[p] * d + tzero[p]
        assert 5000.0 * tof / prev[p] == pytest.approx(5000.0 * d + 10.0)
