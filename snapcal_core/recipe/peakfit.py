"""Fit one peak in its window (weighted least squares, analytic Jacobian); outcomes are values."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from functools import partial
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy.optimize import least_squares

from snapcal_core.calibrant.types import PredictedPeak
from snapcal_core.constants import FWHM_PER_SIGMA
from snapcal_core.instrument.resolution import ALPHA_OVER_BETA, b2b_beta_per_us
from snapcal_core.recipe.mixture import PeakMixture, harmonic_difc
from snapcal_core.recipe.profiles import back_to_back, back_to_back_mixture, gaussian


class PeakOutcome(str, enum.Enum):
    """Why a peak was or was not used."""

    ACCEPTED = "accepted"
    TOO_FEW_COUNTS = "too_few_counts"
    CENTRE_OUTSIDE_WINDOW = "centre_outside_window"
    CHI2_TOO_LARGE = "chi2_too_large"
    HEIGHT_TOO_LOW = "height_too_low"
    FIT_FAILED = "fit_failed"


class PeakFitSettings(BaseModel):
    """Profile choice and acceptance thresholds (Mantid PDCalibration semantics)."""

    profile: Literal["gaussian", "b2b"] = Field("b2b", description="Gaussian or back-to-back exponential (x) Gaussian")
    max_chi2: float = Field(10.0, description="Reject fits with reduced chi2 above this (MaxChiSq)")
    min_counts: float = Field(30.0, description="Reject peaks with fewer net counts than this")
    min_significance: float = Field(3.0, description="Reject peaks whose area is below this many standard errors")
    alpha_over_beta: float = Field(ALPHA_OVER_BETA, description="B2B rise rate as a multiple of the decay rate "
                                   "(held fixed)")
    fit_beta: bool = Field(
        False, description="Fit each peak's B2B decay rate (start: the instrument's tail law, "
        "instrument/resolution.py) "
        "instead of holding it at the law. Held (default): group DIFC to 3-6 ppm (1 sigma, groups 1-5) on 2e7 "
        "Lite events; free: 10-26 ppm, since a peak's onset and its tail trade off (docs/accuracy.md)")
    pixel_mixture: bool = Field(
        True, description="B2B: fit a focused peak as the mixture of its pixels' profiles (tail rates and widths "
        "of the pixels that make it; recipe/mixture.py) where that is known")


class PeakFit(BaseModel):
    """One fitted (or failed) peak; parameters are NaN when the fit failed."""

    d_ref_angstrom: float
    outcome: PeakOutcome
    centre: float = Field(description="Peak position (B2B: onset x0) in x units (TOF us or d)")
    centre_error: float
    sigma: float = Field(description="Gaussian sigma in x units")
    sigma_error: float
    area: float = Field(description="Net counts in the peak")
    area_error: float
    chi2_reduced: float
    window: tuple[float, float]

    @property
    def accepted(self) -> bool:
        return self.outcome is PeakOutcome.ACCEPTED


def _failed(d_ref: float, window: tuple[float, float], outcome: PeakOutcome) -> PeakFit:
    nan = float("nan")
    return PeakFit(d_ref_angstrom=d_ref, outcome=outcome, centre=nan, centre_error=nan, sigma=nan, sigma_error=nan,
                   area=nan, area_error=nan, chi2_reduced=nan, window=window)


def fit_peak(
    *, x: np.ndarray, y: np.ndarray, variance: np.ndarray, window: tuple[float, float], d_ref_angstrom: float,
    sigma_guess: float, settings: PeakFitSettings, beta: float | None = None,
    mixture: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> PeakFit:
    """Fit a peak with linear background inside ``window`` (x units); ``beta`` = B2B decay rate.

    ``mixture`` = (weights, rate scales, width scales) fits the B2B as a sum of components
    (:func:`~snapcal_core.recipe.profiles.back_to_back_mixture`). The model is a density in x, so
    it is scaled by each bin's width (log bins are wider at larger x: without it a peak's onset
    came out high by about its profile's variance / x, 5-35 ppm in the simulated groups)."""
    sel = (x >= window[0]) & (x <= window[1])
    xs, ys, ws = x[sel], y[sel], 1.0 / np.sqrt(np.maximum(variance[sel], 1.0))
    if xs.size < 8:
        return _failed(d_ref_angstrom, window, PeakOutcome.TOO_FEW_COUNTS)
    width = np.gradient(xs)
    edge = max(2, xs.size // 8)
    bg = float(np.median(np.r_[ys[:edge], ys[-edge:]]))
    net = float(np.sum(ys - bg))
    if net < settings.min_counts:
        return _failed(d_ref_angstrom, window, PeakOutcome.TOO_FEW_COUNTS)
    x_max = float(xs[np.argmax(ys)])
    if settings.profile == "gaussian":
        free = np.ones(5, bool)
        p0 = np.array([max(ys.max() - bg, 1.0), x_max, sigma_guess, bg, 0.0])
        model: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] = gaussian
    else:
        beta = beta if beta is not None else 1.0 / (3 * sigma_guess)
        free = np.array([True, True, False, settings.fit_beta, True, True, True])
        p0 = np.array([net * np.mean(width), x_max - 0.5 * sigma_guess, settings.alpha_over_beta * beta, beta,
                       sigma_guess, bg, 0.0])
        model = back_to_back
        if mixture is not None:
            w, r, sc = (np.asarray(a, np.float64) for a in mixture)
            model = partial(back_to_back_mixture, weights=w, rate_scale=r, width_scale=sc)

    ws_bin = ws * width / np.mean(width)  # model is a density in x; bins (log) are wider at larger x

    def residual(q: np.ndarray) -> np.ndarray:
        p = p0.copy()
        p[free] = q
        res: np.ndarray = model(xs, p)[0] * ws_bin - ys * ws
        return res

    def jacobian(q: np.ndarray) -> np.ndarray:
        p = p0.copy()
        p[free] = q
        jac: np.ndarray = model(xs, p)[1][:, free] * ws_bin[:, None]
        return jac

    lo = np.full(free.sum(), -np.inf)
    hi = np.full(free.sum(), np.inf)
    index = [int(i) for i in np.flatnonzero(free)]
    s_idx = 2 if settings.profile == "gaussian" else 4
    lo[index.index(s_idx)] = 1e-6 * sigma_guess
    if settings.profile == "b2b" and settings.fit_beta:
        lo[index.index(3)], hi[index.index(3)] = 0.2 * p0[3], 5.0 * p0[3]
        p0[3] = np.clip(p0[3], 0.2 * p0[3], 5.0 * p0[3])
    try:
        sol = least_squares(residual, p0[free], jac=jacobian, bounds=(lo, hi), method="trf", x_scale="jac")
    except (ValueError, np.linalg.LinAlgError):
        return _failed(d_ref_angstrom, window, PeakOutcome.FIT_FAILED)
    p = p0.copy()
    p[free] = sol.x
    dof = max(1, xs.size - int(free.sum()))
    chi2 = float(2 * sol.cost / dof)
    try:
        cov = np.linalg.inv(sol.jac.T @ sol.jac) * max(1.0, chi2)
    except np.linalg.LinAlgError:
        return _failed(d_ref_angstrom, window, PeakOutcome.FIT_FAILED)
    err = np.full(p.size, np.nan)
    err[free] = np.sqrt(np.clip(np.diag(cov), 0, None))
    if settings.profile == "gaussian":
        area, area_err = p[0] * p[2] * np.sqrt(2 * np.pi) / np.mean(width), err[0] * p[2] * np.sqrt(2 * np.pi) / np.mean(width)
        centre, c_err, sig, s_err = p[1], err[1], p[2], err[2]
    else:
        area, area_err = p[0] / np.mean(width), err[0] / np.mean(width)
        centre, c_err, sig, s_err = p[1], err[1], p[4], err[4]
    fit = PeakFit(d_ref_angstrom=d_ref_angstrom, outcome=PeakOutcome.ACCEPTED, centre=float(centre),
                  centre_error=float(c_err), sigma=float(sig), sigma_error=float(s_err), area=float(area),
                  area_error=float(area_err), chi2_reduced=chi2, window=window)
    outcome = _judge(fit, settings)
    return fit if outcome is PeakOutcome.ACCEPTED else fit.model_copy(update={"outcome": outcome})


def _judge(fit: PeakFit, settings: PeakFitSettings) -> PeakOutcome:
    if not (np.isfinite(fit.centre) and np.isfinite(fit.centre_error)):
        return PeakOutcome.FIT_FAILED
    if not fit.window[0] <= fit.centre <= fit.window[1]:
        return PeakOutcome.CENTRE_OUTSIDE_WINDOW
    if fit.area < settings.min_counts:
        return PeakOutcome.TOO_FEW_COUNTS
    if not fit.area > settings.min_significance * fit.area_error:
        return PeakOutcome.HEIGHT_TOO_LOW
    if not 0.0 <= fit.chi2_reduced <= settings.max_chi2:
        return PeakOutcome.CHI2_TOO_LARGE
    return PeakOutcome.ACCEPTED


def fit_peaks(
    *, x: np.ndarray, y: np.ndarray, variance: np.ndarray, peaks: Sequence[PredictedPeak], settings: PeakFitSettings,
    x_per_angstrom: float, difc_us_per_angstrom: float, mixtures: Sequence[PeakMixture | None] | None = None,
) -> list[PeakFit]:
    """Fit every predicted peak of a spectrum whose x axis is ``x_per_angstrom * d``.

    Use ``x_per_angstrom = DIFC`` for a (focused) TOF spectrum and ``1`` for a d spectrum. The B2B
    decay rate in x units is ``beta_T * DIFC / x_per_angstrom`` (the tail is constant in TOF), with
    ``DIFC = difc_us_per_angstrom``, or per peak from its pixel mixture (``mixtures[k]``, used when
    ``settings.pixel_mixture``): the peak's harmonic mean DIFC, each component's rate scaled by its own.
    """
    fits = []
    for k, pk in enumerate(peaks):
        mix = mixtures[k] if mixtures is not None and settings.pixel_mixture and settings.profile == "b2b" else None
        difc = harmonic_difc(mix) if mix is not None else difc_us_per_angstrom
        fits.append(fit_peak(
            x=x, y=y, variance=variance, window=(pk.d_min_angstrom * x_per_angstrom, pk.d_max_angstrom * x_per_angstrom),
            d_ref_angstrom=pk.d_angstrom, sigma_guess=pk.fwhm_angstrom / FWHM_PER_SIGMA * x_per_angstrom,
            settings=settings, beta=b2b_beta_per_us(d_angstrom=pk.d_angstrom) * difc / x_per_angstrom,
            mixture=None if mix is None else (np.asarray(mix.weights), np.asarray(mix.difc_us_per_angstrom) / difc,
                                              np.asarray(mix.width_scale)),
        ))
    return fits
