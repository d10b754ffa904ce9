"""Sparse (native-mode) pixels: where the pixel step loses information, and what would keep it (issue #18).

Command (docs/decisions/0006-native-sparse-pixels.md has its output)::

    NUMBA_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/sparse_pixels.py [--seed 3] [--budget 300000]

Synthetic pixels of one group built like native Column group 1 at the reference state (DIFC_g =
6860 us/A, dd/d = 2.77e-3, its four reference peaks d = 0.728, 0.818, 1.075, 1.261 A weighted as
their predicted intensities, the instrument's B2B tails ``beta_T = 0.02 + 0.05/d^4`` per us and
rise ``8 beta_T``, Gaussian ``sigma_T = dd/d T / 2``, 10 % flat background in the windows, three
panels at -2e-3, 0, +2e-3 and 1e-3 pixel scatter, search range 81 lags as native group 1 gets).
Every event of a pixel falls in its padded reference windows, so "events/pixel" is the counts in
the windows (native: ~85 events a pixel, 20-224 in the windows). A row uses at most ``--budget``
events (pixels = budget / events, 60 to 6000: the pixels column says how precise a row is).

The present code is called, not re-implemented: ``calibrate_pixels`` (the loop), its kernels
``window_histograms``, ``group_sums``, ``cross_correlate``, and the split-half factor
(``held_out.half_iterations``, ``pixel_scale.split_half_scale``, ``scaled_uncertainty``).
Prototypes (here only): the same kernels iterated against other references (exact, static,
smoothed and cross-fitted), an unbinned likelihood fit of each pixel's events against the exact
profile, and a panel-level shrinkage.

Columns:

- ``RMS/CRB``: RMS of the per-pixel relative DIFC error (the group's mean ratio to the truth
  removed, as benchmarks/accuracy.py) over the RMS of the Cramer-Rao bound below;
- ``robust/CRB``: the same with 1.4826 MAD for the RMS (the core of the errors, without jumps);
- ``outliers``: fraction of pixels beyond 5 robust widths (a different maximum of the likelihood);
- ``RMS/bound``: RMS error over the RMS of the kernel's own bound (``statistical_bound``);
- ``pull``: std of error / reported sigma (the loop's, or the split-half-scaled one);
- ``drift (ppm)``: mean error before the group mean is removed (a bias common to the group; the
  group step fixes the group's scale, so only the relative errors matter for the pixel step);
- ``slope``: regression slope of the estimated on the true shift (1: no pull towards zero lag).

Cramer-Rao bound of a shift ``s`` (in log-d bins) of a known profile. A pixel's counts in the
core of window ``w`` (``N_w`` of them, the kernel's likelihood conditions on them) are i.i.d. with
density ``g_w(x - s) / G_w`` on the core ``C_w``, ``G_w = int_C g_w``; the Fisher information per
count is

.. math:: I_w = \\frac{1}{G_w}\\int_{C_w} \\frac{g_w'(x)^2}{g_w(x)}\\,dx - \\left(\\frac{g_w(c_0) - g_w(c_1)}{G_w}\\right)^2

(``c_0, c_1``: the core's ends), and ``sigma_CRB = |log step| / sqrt(sum_w N_w I_w)`` in relative DIFC.
``g_w`` is the exact density: ``(1 - b) f_w + b / width`` with ``f_w`` the Gaussian-convolved
back-to-back exponential

.. math:: f(u) = \\frac{\\alpha\\beta}{2(\\alpha+\\beta)} e^{-u^2/2\\sigma^2}
          \\left[\\mathrm{erfcx}\\frac{\\alpha\\sigma^2 + u}{\\sqrt2\\sigma}
          + \\mathrm{erfcx}\\frac{\\beta\\sigma^2 - u}{\\sqrt2\\sigma}\\right]

in TOF ``u`` (us) about the peak, mapped to the log-d bins of the window.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numba
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.special import erfcx

from snapcal_core.calibrant.types import GroupPeakList, PredictedPeak
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe import pixel_kernels as kernels
from snapcal_core.recipe.held_out import half_iterations
from snapcal_core.recipe.pixel import (
    PixelCalibrationSettings,
    PixelWindows,
    SortedEvents,
    calibrate_pixels,
    plan_windows,
    sort_events,
    window_histograms,
)
from snapcal_core.recipe.pixel_scale import scaled_uncertainty, split_half_scale

D_PEAKS_ANGSTROM = np.array([0.728, 0.818, 1.075, 1.261])  # native Column group 1's four reference peaks
PEAK_WEIGHTS = np.array([166.6, 136.7, 426.6, 820.2])  # their predicted intensities
DIFC_GROUP_US_PER_ANGSTROM = 6860.2
DELTA_D_OVER_D = 2.7737e-3
ALPHA_OVER_BETA = 8.0
FWHM_PER_HALF_DD = 2.0 * np.sqrt(2.0 * np.log(2.0)) * 0.5
PANEL_OFFSETS = np.array([-2e-3, 0.0, 2e-3])
PIXEL_SCATTER = 1e-3
BACKGROUND_FRACTION = 0.1
NATIVE_MAX_LAG = 81  # native group 1 searches +-81 lags (2.5 FWHM of group 6's widest peak)
EVENTS_PER_PIXEL = (20, 50, 85, 200, 1000, 5000)


def beta_per_us(d_angstrom: np.ndarray | float) -> np.ndarray | float:
    """Instrument tail law ``beta_T = 0.02 + 0.05 / d^4`` per us."""
    return 0.02 + 0.05 / np.asarray(d_angstrom) ** 4


def group_peaks() -> list[GroupPeakList]:
    """The group's predicted peaks with SNAPRed's windows ``[d - 1.5 FWHM, d + 1.5 FWHM + 2/beta_d]``."""
    fwhm_rel = FWHM_PER_HALF_DD * DELTA_D_OVER_D
    return [GroupPeakList(group_id=1, peaks=[PredictedPeak(
        d_angstrom=float(d), d_min_angstrom=float(d * (1 - 1.5 * fwhm_rel)),
        d_max_angstrom=float(d * (1 + 1.5 * fwhm_rel) + 2.0 / (beta_per_us(d) * DIFC_GROUP_US_PER_ANGSTROM)),
        fwhm_angstrom=float(fwhm_rel * d), intensity=float(w)) for d, w in zip(D_PEAKS_ANGSTROM, PEAK_WEIGHTS)])]


def native_settings(**update: object) -> PixelCalibrationSettings:
    """The loop's defaults with the search range native group 1 gets (81 lags)."""
    fwhm_bins = FWHM_PER_HALF_DD * 10.0  # FWHM / log step, bins_per_resolution = 10
    return PixelCalibrationSettings(max_shift_fwhm=(NATIVE_MAX_LAG - 0.5) / fwhm_bins, **update)


@dataclass
class Sample:
    """Synthetic events of one group and their truth."""

    pixel: np.ndarray
    tof_us: np.ndarray
    truth_difc: np.ndarray
    geometric_difc: np.ndarray
    panel: np.ndarray
    group: np.ndarray


def simulate(rng: np.random.Generator, n_pixels: int, events_per_pixel: float, windows: PixelWindows,
             *, width_spread: float = 0.0) -> Sample:
    """Poisson(events_per_pixel) events per pixel: Bragg events ``TOF = DIFC_p d + sigma_T g + tail``
    (as simulate/kernels.py), a BACKGROUND_FRACTION of them flat in d over the padded windows."""
    panel = np.arange(n_pixels) % 3
    geometric = np.full(n_pixels, DIFC_GROUP_US_PER_ANGSTROM)
    truth = geometric * (1.0 + PANEL_OFFSETS[panel] + rng.normal(0.0, PIXEL_SCATTER, n_pixels))
    width = 1.0 + rng.uniform(-width_spread, width_spread, n_pixels)
    pixel = np.repeat(np.arange(n_pixels), rng.poisson(events_per_pixel, n_pixels))
    m = pixel.size
    h = rng.choice(D_PEAKS_ANGSTROM.size, m, p=PEAK_WEIGHTS / PEAK_WEIGHTS.sum())
    d = D_PEAKS_ANGSTROM[h]
    t0 = truth[pixel] * d
    beta = beta_per_us(d)
    alpha = ALPHA_OVER_BETA * beta
    tail = np.where(rng.random(m) < alpha / (alpha + beta), rng.exponential(1.0, m) / beta,
                    -rng.exponential(1.0, m) / alpha)
    tof = t0 + rng.standard_normal(m) * 0.5 * DELTA_D_OVER_D * width[pixel] * t0 + tail
    flat = rng.random(m) < BACKGROUND_FRACTION
    lo = np.exp(windows.lo[0, h[flat]])
    hi = np.exp(windows.lo[0, h[flat]] + windows.nbins[0, h[flat]] * abs(windows.log_step))
    tof[flat] = truth[pixel[flat]] * rng.uniform(lo, hi)
    return Sample(pixel=pixel.astype(np.uint32), tof_us=tof.astype(np.float32), truth_difc=truth,
                  geometric_difc=geometric, panel=panel, group=np.ones(n_pixels, np.int32))


# --- the exact profile, its binned expectation and the Cramer-Rao bound ---------------------------------------

def b2b_gauss_pdf(u_us: np.ndarray, sigma_us: float, alpha_per_us: float, beta_per_us_: float) -> np.ndarray:
    """Gaussian-convolved back-to-back exponential density in TOF (module docstring)."""
    s2 = sigma_us * sigma_us
    y = (alpha_per_us * s2 + u_us) / (np.sqrt(2.0) * sigma_us)
    z = (beta_per_us_ * s2 - u_us) / (np.sqrt(2.0) * sigma_us)
    norm = alpha_per_us * beta_per_us_ / (2.0 * (alpha_per_us + beta_per_us_))
    return norm * np.exp(-u_us * u_us / (2.0 * s2)) * (erfcx(np.clip(y, -25, None)) + erfcx(np.clip(z, -25, None)))


@dataclass(frozen=True)
class Profile:
    """Per window: the density per log-d bin on a fine grid of bin positions ``x`` (0 = the window's
    first edge), its cumulative integral, the binned expectation (per event), and I_w per core count."""

    x: np.ndarray  # (n_fine,) shared grid in bins, spacing FINE
    density: np.ndarray  # (n_windows, n_fine), integrates to 1 over the padded window
    cumulative: np.ndarray  # (n_windows, n_fine)
    binned: np.ndarray  # (n_windows, max nbins) expected fraction per bin
    information: np.ndarray  # (n_windows,) Fisher information per core count, bins^-2


FINE = 0.02  # bins


def exact_profile(windows: PixelWindows) -> Profile:
    """The group's exact profile in each window's log-d bins (every pixel at DIFC_g; the 2e-3
    panel and 1e-3 pixel offsets change its width by 0.2 %)."""
    step = abs(windows.log_step)
    n_w = int(windows.count[0])
    n_max = int(windows.nbins[0].max())
    x = np.arange(0.0, n_max + FINE / 2, FINE)
    density = np.zeros((n_w, x.size))
    for w in range(n_w):
        d = D_PEAKS_ANGSTROM[w]
        nb = int(windows.nbins[0, w])
        d_grid = np.exp(windows.lo[0, w] + x * step)  # d'' at x
        u = (d_grid - d) * DIFC_GROUP_US_PER_ANGSTROM  # TOF from the peak
        beta = float(beta_per_us(d))
        bragg = b2b_gauss_pdf(u, 0.5 * DELTA_D_OVER_D * DIFC_GROUP_US_PER_ANGSTROM * d, ALPHA_OVER_BETA * beta, beta)
        bragg *= DIFC_GROUP_US_PER_ANGSTROM * d_grid * step  # per bin
        inside = x <= nb
        bragg[~inside] = 0.0
        bragg /= np.trapezoid(bragg, x)
        flat = np.where(inside, d_grid, 0.0)
        flat /= np.trapezoid(flat, x)
        density[w] = (1 - BACKGROUND_FRACTION) * bragg + BACKGROUND_FRACTION * flat
    cumulative = np.concatenate([np.zeros((n_w, 1)), np.cumsum(0.5 * (density[:, 1:] + density[:, :-1]) * FINE, axis=1)],
                                axis=1)
    binned = np.zeros((n_w, n_max))
    info = np.zeros(n_w)
    m = windows.max_lag
    for w in range(n_w):
        nb = int(windows.nbins[0, w])
        edges = np.interp(np.arange(nb + 1), x, cumulative[w])
        binned[w, :nb] = np.diff(edges)
        core = (x >= m) & (x <= nb - m)
        g, gd = density[w, core], np.gradient(density[w], FINE)[core]
        big_g = np.trapezoid(g, x[core])
        info[w] = np.trapezoid(gd * gd / np.maximum(g, 1e-300), x[core]) / big_g - ((g[0] - g[-1]) / big_g) ** 2
    return Profile(x=x, density=density, cumulative=cumulative, binned=binned, information=info)


def crb_relative(core_counts: np.ndarray, profile: Profile, log_step: float) -> np.ndarray:
    """Per-pixel Cramer-Rao bound in relative DIFC from its core counts per window (module docstring)."""
    fisher = core_counts @ profile.information
    return np.where(fisher > 0, abs(log_step) / np.sqrt(np.maximum(fisher, 1e-300)), np.nan)


def core_counts(hist: np.ndarray, windows: PixelWindows) -> np.ndarray:
    """Counts of every pixel in each window's core (max_lag bins in from each end)."""
    m = windows.max_lag
    return np.stack([hist[:, o + m:o + n - m].sum(axis=1, dtype=np.float64)
                     for o, n in zip(windows.offset[0][: windows.count[0]], windows.nbins[0][: windows.count[0]])], axis=1)


def reference_row(profile: Profile, windows: PixelWindows, total: float) -> np.ndarray:
    """The exact expected group histogram (one compact row) for ``total`` events."""
    row = np.zeros((1, windows.row_len))
    share = PEAK_WEIGHTS / PEAK_WEIGHTS.sum()
    for w in range(int(windows.count[0])):
        o, nb = windows.offset[0, w], windows.nbins[0, w]
        row[0, o:o + nb] = total * share[w] * profile.binned[w, :nb]
    return row


# --- figures of merit -------------------------------------------------------------------------------------------

@dataclass
class Figures:
    rms_crb: float
    robust_crb: float
    outliers: float
    rms_bound: float
    pull: float
    pull_scaled: float
    drift_ppm: float
    used: float


def figures(difc: np.ndarray, used: np.ndarray, truth: np.ndarray, crb: np.ndarray, bound: np.ndarray | None = None,
            sigma: np.ndarray | None = None, sigma_scaled: np.ndarray | None = None) -> Figures:
    ok = used & np.isfinite(difc) & np.isfinite(crb)
    ratio = difc[ok] / truth[ok]
    err = ratio / ratio.mean() - 1.0
    rms_crb = float(np.sqrt(np.mean(crb[ok] ** 2)))
    robust = 1.4826 * float(np.median(np.abs(err - np.median(err))))

    def pull(s: np.ndarray | None) -> float:
        return float(np.std(err / s[ok])) if s is not None else np.nan

    return Figures(rms_crb=float(err.std()) / rms_crb, robust_crb=robust / rms_crb,
                   outliers=float(np.mean(np.abs(err - np.median(err)) > 5 * robust)),
                   rms_bound=float(err.std() / np.sqrt(np.mean(bound[ok] ** 2))) if bound is not None else np.nan,
                   pull=pull(sigma), pull_scaled=pull(sigma_scaled), drift_ppm=1e6 * float(ratio.mean() - 1.0),
                   used=float(ok.mean()))


def bound_over_crb(bound: np.ndarray, crb: np.ndarray, used: np.ndarray) -> float:
    """RMS of the kernel's bound over the RMS of the exact CRB (below 1: the kernel claims more information)."""
    ok = used & np.isfinite(bound) & np.isfinite(crb)
    return float(np.sqrt(np.mean(bound[ok] ** 2) / np.mean(crb[ok] ** 2)))


def fmt(v: float, digits: int = 2) -> str:
    return "" if not np.isfinite(v) else f"{v:.{digits}f}"


# --- iterating the real kernels against a chosen reference ------------------------------------------------------

def _smooth(ref: np.ndarray, windows: PixelWindows, sigma_bins: float) -> np.ndarray:
    out = ref.copy()
    for r in range(ref.shape[0]):
        for o, nb in zip(windows.offset[0][: windows.count[0]], windows.nbins[0][: windows.count[0]]):
            out[r, o:o + nb] = gaussian_filter1d(ref[r, o:o + nb], sigma_bins, mode="nearest")
    return out


def iterate(sample: Sample, events: SortedEvents, windows: PixelWindows, profile: Profile, *, reference: str,
            start: np.ndarray, iterations: int, rng: np.random.Generator, smooth_bins: float = 2.0,
            ) -> tuple[list[np.ndarray], np.ndarray]:
    """``iterations`` pixel iterations with the real kernels (window_histograms, cross_correlate and the
    loop's DIFC update ``DIFC (1 + |s|)^-offset``) against ``reference``:

    - ``group``: the group's sum of the current histograms, own counts removed (the present loop);
    - ``exact``: the exact expected histogram, fixed (no noise, no feedback);
    - ``static``: one Poisson draw of the exact histogram with the group's counts, fixed (its noise,
      no feedback);
    - ``smooth-xfit``: even pixels against the odd pixels' current sum and vice versa, each
      smoothed per window by a Gaussian of ``smooth_bins`` (no bin-scale structure to lock onto); the
      two halves' median offsets are made equal each iteration (else they swap places for ever).

    Returns the DIFC after every iteration and the kernel's last bound (relative)."""
    n = sample.truth_difc.size
    table = DiffCalTable.from_difc(sample.geometric_difc, group=sample.group)
    row_group = np.zeros(n, np.int64)
    use = np.ones(n, np.int32)
    difc = start.astype(np.float64).copy()
    total = float(sample.pixel.size)
    static = rng.poisson(reference_row(profile, windows, total)).astype(np.float64)
    exact = reference_row(profile, windows, 1e9)
    layout2 = (np.repeat(windows.nbins, 2, axis=0), np.repeat(windows.offset, 2, axis=0), np.repeat(windows.count, 2))
    out, bound = [], np.full(n, np.nan)
    step = abs(windows.log_step)
    for _ in range(iterations):
        hist = window_histograms(events=events, row_group=row_group, windows=windows, difc=difc, table=table, use=use)
        if reference == "smooth-xfit":
            parity = (np.arange(n) % 2).astype(np.int64)
            sums = kernels.group_sums(hist, parity, use, 2)
            ref = _smooth(sums[::-1].copy(), windows, smooth_bins)  # row 0 (even pixels) = the odd pixels' sum
            offset, _, b, failed = kernels.cross_correlate(hist, ref, parity, np.zeros(n, np.int32), *layout2,
                                                           windows.max_lag)
        else:
            ref = {"group": None, "exact": exact, "static": static}[reference]
            own = use if ref is None else np.zeros(n, np.int32)
            ref = kernels.group_sums(hist, row_group, use, 1) if ref is None else ref
            offset, _, b, failed = kernels.cross_correlate(hist, ref, row_group, own, windows.nbins, windows.offset,
                                                           windows.count, windows.max_lag)
        ok = ~failed & np.isfinite(offset)
        if reference == "smooth-xfit":  # each half follows the other's reference: keep the halves' medians together
            for half in (0, 1):
                sel = ok & (np.arange(n) % 2 == half)
                offset[sel] -= np.median(offset[sel]) - np.median(offset[ok])
        difc[ok] *= (1.0 + step) ** (-offset[ok])
        bound = b * step
        out.append(difc.copy())
    return out, bound


# --- prototype (a): unbinned likelihood of each pixel's events against the exact profile -------------------------

@numba.njit(cache=False)
def _unbinned_fit(start: np.ndarray, x: np.ndarray, win: np.ndarray, grid_x0: float, fine: float,
                  log_density: np.ndarray, cumulative: np.ndarray, core_lo: np.ndarray, core_hi: np.ndarray,
                  max_lag: int) -> np.ndarray:
    """Shift ``s`` (bins) maximising ``sum_i log g_w(x_i - s) - sum_w N_w log G_w(s)`` over each pixel's
    core events (``G_w(s)``: the density's integral over the core moved by ``-s``): a grid of 0.25
    bins over +-max_lag, then golden section on +-0.25 bins around the best point."""
    n_p = start.shape[0] - 1
    out = np.full(n_p, np.nan)
    n_fine = log_density.shape[1]

    def value(s: float, a: int, z: int) -> float:
        total = 0.0
        counts = np.zeros(log_density.shape[0])
        for i in range(a, z):
            w = win[i]
            if x[i] < core_lo[w] or x[i] > core_hi[w]:
                continue
            q = (x[i] - s - grid_x0) / fine
            j = int(np.floor(q))
            if j < 0 or j >= n_fine - 1:
                total += -1e3
                continue
            f = q - j
            total += (1.0 - f) * log_density[w, j] + f * log_density[w, j + 1]
            counts[w] += 1.0
        for w in range(log_density.shape[0]):
            if counts[w] == 0.0:
                continue
            qa = (core_lo[w] - s - grid_x0) / fine
            qz = (core_hi[w] - s - grid_x0) / fine
            ja, jz = min(max(int(qa), 0), n_fine - 1), min(max(int(qz), 0), n_fine - 1)
            total -= counts[w] * np.log(max(cumulative[w, jz] - cumulative[w, ja], 1e-300))
        return total

    for p in range(n_p):
        a, z = start[p], start[p + 1]
        if z == a:
            continue
        best_s, best_v = 0.0, -np.inf
        s = -float(max_lag)
        while s <= max_lag:
            v = value(s, a, z)
            if v > best_v:
                best_s, best_v = s, v
            s += 0.25
        lo, hi = best_s - 0.25, best_s + 0.25
        g = 0.3819660112501051
        c, d = lo + g * (hi - lo), hi - g * (hi - lo)
        vc, vd = value(c, a, z), value(d, a, z)
        for _ in range(30):
            if vc > vd:
                hi, d, vd = d, c, vc
                c = lo + g * (hi - lo)
                vc = value(c, a, z)
            else:
                lo, c, vc = c, d, vd
                d = hi - g * (hi - lo)
                vd = value(d, a, z)
        out[p] = 0.5 * (lo + hi)
    return out


def unbinned_fit(sample: Sample, windows: PixelWindows, profile: Profile, difc: np.ndarray) -> np.ndarray:
    """New DIFC of every pixel from the unbinned fit of its events (positions in the loop's
    TOF-translated log-d bins at ``difc``) against the exact profile."""
    step = abs(windows.log_step)
    pix = sample.pixel.astype(np.int64)
    d = sample.tof_us.astype(np.float64) / difc[pix]
    stretch = difc[pix] / np.mean(difc)
    x = np.full(d.size, np.nan)
    win = np.zeros(d.size, np.int64)
    for w in range(int(windows.count[0])):
        dd = D_PEAKS_ANGSTROM[w] + (d - D_PEAKS_ANGSTROM[w]) * stretch
        xw = (np.log(dd) - windows.lo[0, w]) / step
        inside = (xw >= 0) & (xw < windows.nbins[0, w])
        x[inside], win[inside] = xw[inside], w
    keep = np.isfinite(x)
    order = np.argsort(pix[keep], kind="stable")
    xs, ws, ps = x[keep][order], win[keep][order], pix[keep][order]
    start = np.searchsorted(ps, np.arange(difc.size + 1))
    m = windows.max_lag
    core_lo = np.full(int(windows.count[0]), float(m))
    core_hi = windows.nbins[0][: windows.count[0]].astype(np.float64) - m
    log_density = np.log(np.maximum(profile.density, 1e-300))
    shift = _unbinned_fit(start, xs, ws, float(profile.x[0]), FINE, log_density, profile.cumulative, core_lo, core_hi,
                          m)
    return difc * (1.0 + step) ** np.nan_to_num(shift)


# --- prototype (b): panel-level shrinkage ---------------------------------------------------------------------

def shrink_to_panels(difc: np.ndarray, sigma_rel: np.ndarray, sample: Sample) -> np.ndarray:
    """Empirical-Bayes shrinkage of ``theta_p = ln(DIFC_p / DIFC_geo)`` towards its panel's mean:
    ``mu + tau^2 / (tau^2 + sigma_p^2) (theta_p - mu)``, ``tau^2 = var(theta) - mean(sigma^2)`` per
    panel (method of moments). Not unbiased per pixel: it can go below the CRB."""
    theta = np.log(difc / sample.geometric_difc)
    out = theta.copy()
    for k in np.unique(sample.panel):
        sel = sample.panel == k
        mu = np.median(theta[sel])
        tau2 = max(float(np.var(theta[sel]) - np.mean(sigma_rel[sel] ** 2)), 0.0)
        out[sel] = mu + tau2 / (tau2 + sigma_rel[sel] ** 2) * (theta[sel] - mu)
    return sample.geometric_difc * np.exp(out)


# --- experiments --------------------------------------------------------------------------------------------------

def setup(seed: int, events_per_pixel: float, n_pixels: int, **kw: float):
    peaks = group_peaks()
    settings = native_settings()
    windows = plan_windows(peaks, settings)
    assert windows.max_lag == NATIVE_MAX_LAG, windows.max_lag
    rng = np.random.default_rng([seed, int(events_per_pixel), n_pixels])
    sample = simulate(rng, n_pixels, events_per_pixel, windows, **kw)
    events = sort_events(sample.pixel, sample.tof_us, n_pixels)
    truth_table = DiffCalTable.from_difc(sample.truth_difc, group=sample.group)
    hist = window_histograms(events=events, row_group=np.zeros(n_pixels, np.int64), windows=windows,
                             difc=sample.truth_difc, table=truth_table, use=np.ones(n_pixels, np.int32))
    return peaks, settings, windows, rng, sample, events, core_counts(hist, windows)


def pixels_for(events_per_pixel: float, budget: int) -> int:
    return int(np.clip(budget // events_per_pixel, 60, 6000))


def table_present(seed: int, budget: int, profile_cache: dict) -> None:
    print("\n### 1. The present loop (`calibrate_pixels`, native search range) against the truth\n")
    print("| events/pixel | pixels | iterations | RMS/CRB | robust/CRB | outliers | RMS/bound | pull (loop sigma) "
          "| pull (split-half sigma) | split-half factor | kernel bound / CRB | drift (ppm) | masked |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for ev in EVENTS_PER_PIXEL:
        n = pixels_for(ev, budget)
        peaks, settings, windows, rng, sample, events, core = setup(seed, ev, n)
        profile = profile_cache.setdefault("p", exact_profile(windows))
        crb = crb_relative(core, profile, windows.log_step)
        table = DiffCalTable.from_difc(sample.geometric_difc, group=sample.group)
        r = calibrate_pixels(pixel=sample.pixel, tof_us=sample.tof_us, group_of_pixel=sample.group, peaks=peaks,
                             table=table, settings=settings)
        converged = DiffCalTable.from_difc(r.difc, group=sample.group)
        converged.use[:] = r.use
        halves = half_iterations(pixel=sample.pixel, tof_us=sample.tof_us, group_of_pixel=sample.group, peaks=peaks,
                                 table=converged, settings=settings)
        scale = split_half_scale(halves=halves, group_of_pixel=sample.group, group_ids=[1], counts=r.counts_in_windows)
        scaled = scaled_uncertainty(bound=r.statistical_bound, group_of_pixel=sample.group, scale=scale,
                                    counts=r.counts_in_windows)
        f = figures(r.difc, r.use > 0, sample.truth_difc, crb, r.statistical_bound, r.difc_uncertainty, scaled)
        print(f"| {ev} | {n} | {len(r.iterations)} | {fmt(f.rms_crb)} | {fmt(f.robust_crb)} | {fmt(100 * f.outliers, 1)} % "
              f"| {fmt(f.rms_bound)} | {fmt(f.pull)} | {fmt(f.pull_scaled)} | {fmt(scale.factor[1])} "
              f"| {fmt(bound_over_crb(r.statistical_bound, crb, r.use > 0))} | {fmt(f.drift_ppm, 0)} "
              f"| {fmt(100 * (1 - f.used), 1)} % |")


def table_iterations(seed: int, budget: int, profile_cache: dict, events_per_pixel: int) -> None:
    n = pixels_for(events_per_pixel, budget)
    print(f"\n### 2. RMS/CRB after each iteration, {events_per_pixel} events/pixel, {n} pixels "
          "(the real kernels; only the reference differs)\n")
    print("| reference | start | it 1 | it 2 | it 3 | it 4 | it 5 | robust/CRB it 1 | robust/CRB it 5 | outliers it 5 "
          "| whole-bin fraction it 5 | kernel bound / CRB it 5 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    peaks, settings, windows, rng, sample, events, core = setup(seed, events_per_pixel, n)
    profile = profile_cache.setdefault("p", exact_profile(windows))
    crb = crb_relative(core, profile, windows.log_step)
    for reference in ("group", "static", "exact", "smooth-xfit"):
        for start_name in ("truth", "geometric"):
            start = sample.truth_difc if start_name == "truth" else sample.geometric_difc
            history, bound = iterate(sample, events, windows, profile, reference=reference, start=start,
                                     iterations=5, rng=rng)
            figs = [figures(h, np.ones(n, bool), sample.truth_difc, crb) for h in history]
            offsets = np.log(history[-1] / history[-2]) / np.log1p(abs(windows.log_step))
            frac = np.abs(offsets - np.round(offsets))
            whole = float(np.mean(frac[np.abs(offsets) > 1e-6] < 0.25))
            print(f"| {reference} | {start_name} | " + " | ".join(fmt(f.rms_crb) for f in figs)
                  + f" | {fmt(figs[0].robust_crb)} | {fmt(figs[-1].robust_crb)} | {fmt(100 * figs[-1].outliers, 2)} % "
                  f"| {fmt(whole)} | {fmt(bound_over_crb(bound, crb, np.ones(n, bool)))} |")


def table_group_size(seed: int, events_per_pixel: int, sizes: tuple[int, ...], profile_cache: dict) -> None:
    print(f"\n### 3. Group size, {events_per_pixel} events/pixel: RMS/CRB of the group-sum reference, from the truth\n")
    print("| pixels | mean counts per reference core bin | RMS/CRB it 1, 3, 5 | robust/CRB it 1, 3, 5 "
          "| outliers it 1, 3, 5 | kernel bound / CRB it 5 |")
    print("| ---: | ---: | --- | --- | --- | ---: |")
    for n in sizes:
        peaks, settings, windows, rng, sample, events, core = setup(seed, events_per_pixel, n)
        profile = profile_cache.setdefault("p", exact_profile(windows))
        crb = crb_relative(core, profile, windows.log_step)
        history, bound = iterate(sample, events, windows, profile, reference="group", start=sample.truth_difc,
                                 iterations=5, rng=rng)
        per_bin = core.sum() / float(sum(nb - 2 * windows.max_lag for nb in windows.nbins[0][: windows.count[0]]))
        figs = [figures(history[i], np.ones(n, bool), sample.truth_difc, crb) for i in (0, 2, 4)]
        print(f"| {n} | {per_bin:.0f} | " + ", ".join(fmt(f.rms_crb) for f in figs) + " | "
              + ", ".join(fmt(f.robust_crb) for f in figs) + " | "
              + ", ".join(f"{100 * f.outliers:.2f} %" for f in figs)
              + f" | {fmt(bound_over_crb(bound, crb, np.ones(n, bool)))} |")


def table_alternatives(seed: int, budget: int, profile_cache: dict) -> None:
    print("\n### 4. Alternatives against the truth (RMS/CRB; robust/CRB; outliers), from the geometric constants\n")
    print("| events/pixel | pixels | present loop (group sum, 3-5 it) | exact reference, 3 it | smoothed cross-fitted "
          "reference (2 bins), 3 it | + unbinned fit vs exact profile | present + panel shrinkage | unbinned + shrinkage |")
    print("| ---: | ---: | --- | --- | --- | --- | --- | --- |")
    for ev in EVENTS_PER_PIXEL:
        n = pixels_for(ev, budget)
        peaks, settings, windows, rng, sample, events, core = setup(seed, ev, n)
        profile = profile_cache.setdefault("p", exact_profile(windows))
        crb = crb_relative(core, profile, windows.log_step)
        everyone = np.ones(n, bool)
        r = calibrate_pixels(pixel=sample.pixel, tof_us=sample.tof_us, group_of_pixel=sample.group, peaks=peaks,
                             table=DiffCalTable.from_difc(sample.geometric_difc, group=sample.group), settings=settings)
        exact, _ = iterate(sample, events, windows, profile, reference="exact", start=sample.geometric_difc,
                           iterations=3, rng=rng)
        xfit, _ = iterate(sample, events, windows, profile, reference="smooth-xfit", start=sample.geometric_difc,
                          iterations=3, rng=rng)
        unbinned = unbinned_fit(sample, windows, profile, xfit[-1])
        cells = []
        for difc, used in ((r.difc, r.use > 0), (exact[-1], everyone), (xfit[-1], everyone), (unbinned, everyone),
                           (shrink_to_panels(r.difc, crb, sample), r.use > 0),
                           (shrink_to_panels(unbinned, crb, sample), everyone)):
            f = figures(difc, used, sample.truth_difc, crb)
            cells.append(f"{fmt(f.rms_crb)}; {fmt(f.robust_crb)}; {fmt(100 * f.outliers, 1)} %")
        print(f"| {ev} | {n} | " + " | ".join(cells) + " |")


def table_reference_noise(seed: int, profile_cache: dict) -> None:
    print("\n### 5. One iteration from known shifts (N(0, 1.5) bins): the pixel's own counts and the search range\n")
    print("| events/pixel | pixels | reference | RMS/CRB | robust/CRB | outliers | slope |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for ev, n in ((50, 300), (50, 3000), (1000, 300)):
        peaks, settings, windows, rng, sample, events, core = setup(seed, ev, n)
        profile = profile_cache.setdefault("p", exact_profile(windows))
        crb = crb_relative(core, profile, windows.log_step)
        step = abs(windows.log_step)
        shift_bins = rng.normal(0.0, 1.5, n)
        start = sample.truth_difc * (1.0 + step) ** shift_bins
        table = DiffCalTable.from_difc(sample.geometric_difc, group=sample.group)
        row_group, use = np.zeros(n, np.int64), np.ones(n, np.int32)
        hist = window_histograms(events=events, row_group=row_group, windows=windows, difc=start, table=table, use=use)
        reference = kernels.group_sums(hist, row_group, use, 1)
        for name, ref, own in (("group sum, own counts removed (present)", reference, use),
                               ("group sum, own counts kept", reference, np.zeros(n, np.int32)),
                               ("exact (noise-free)", reference_row(profile, windows, 1e9), np.zeros(n, np.int32))):
            offset, _, _, failed = kernels.cross_correlate(hist, ref, row_group, own, windows.nbins, windows.offset,
                                                           windows.count, windows.max_lag)
            difc = start * (1.0 + step) ** (-np.nan_to_num(offset))
            f = figures(difc, ~failed, sample.truth_difc, crb)
            residual = offset - shift_bins  # offset estimates the shift
            core = ~failed & (np.abs(residual - np.nanmedian(residual))
                              < 5 * 1.4826 * np.nanmedian(np.abs(residual - np.nanmedian(residual))))
            slope = np.polyfit(shift_bins[core], offset[core], 1)[0]  # without the outliers
            print(f"| {ev} | {n} | {name} | {fmt(f.rms_crb)} | {fmt(f.robust_crb)} | {fmt(100 * f.outliers, 1)} % "
                  f"| {fmt(slope)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--budget", type=int, default=300_000, help="events per row at most")
    parser.add_argument("--only", default="12345", help="which tables (digits)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    cache: dict = {}
    print(f"seed {args.seed}, budget {args.budget} events a row")
    if "1" in args.only:
        table_present(args.seed, args.budget, cache)
    if "2" in args.only:
        table_iterations(args.seed, args.budget, cache, 50)
    if "3" in args.only:
        table_group_size(args.seed, 50, (600, 1500, 6000), cache)
    if "4" in args.only:
        table_alternatives(args.seed, args.budget, cache)
    if "5" in args.only:
        table_reference_noise(args.seed, cache)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
