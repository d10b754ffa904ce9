"""The pixel mixture of a focused peak: which pixels make it, and so its tail lengths and widths.

A focused group peak is the sum of its pixels' peaks. Each pixel's back-to-back tail is constant
in its own TOF, so on the focused axis ``x = DIFC_arb d`` it decays with the rate
:math:`\\beta_T \\mathrm{DIFC}_p / \\mathrm{DIFC_{arb}}`; each pixel's Gaussian width is its own
resolution :math:`\\sigma_p \\propto (\\Delta d/d)_p`. In a wide group both vary by +-15-20 %, and
each reflection is seen by a different part of the group (the wavelength band). One B2B with one
held tail then put the peak onsets off by up to -50 to +44 ppm, in a pattern that follows d
(native run focused with the true constants, group 6; docs/accuracy.md); a mixture of the pixels'
profiles fits them to counting precision.

:func:`peak_mixtures` counts, for every predicted peak, the events in its core (+-1 FWHM) by
component: the group's pixels binned by ``ln(DIFC_p / DIFC_arb)``. Each component carries its
count fraction, its count-weighted harmonic mean DIFC (the tail rate) and its mean resolution (the
Gaussian width, relative to the peak's mean). :func:`~snapcal_core.recipe.profiles.back_to_back_mixture`
evaluates the sum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.calibrant.types import GroupPeakList
from snapcal_core.instrument.tof import d_from_tof_scalar
from snapcal_core.io.diffcal import DiffCalTable

N_COMPONENTS = 8


class PeakMixture(BaseModel):
    """The components of one focused peak (one entry per component with counts)."""

    weights: list[float] = Field(description="Fraction of the peak's core counts in each component")
    difc_us_per_angstrom: list[float] = Field(description="Count-weighted harmonic mean DIFC of each component")
    width_scale: list[float] = Field(description="Component resolution / the peak's count-weighted mean resolution")


@numba.njit(parallel=True, nogil=True, cache=True)
def _component_sums(pixel: np.ndarray, tof: np.ndarray, row_of_pixel: np.ndarray, component_of_pixel: np.ndarray,
                    difc: np.ndarray, difa: np.ndarray, tzero: np.ndarray, sigma_rel: np.ndarray, core_lo: np.ndarray,
                    core_hi: np.ndarray, n_peaks: np.ndarray, n_components: int, n_chunks: int) -> np.ndarray:
    """Per (group row, peak, component): events in the peak core, their sum of 1/DIFC_p and of sigma_p."""
    n_rows, max_peaks = core_lo.shape
    out = np.zeros((n_chunks, 3, n_rows, max_peaks, n_components))
    n = pixel.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        for i in range(c * size, min(n, (c + 1) * size)):
            p = pixel[i]
            row = row_of_pixel[p]
            if row < 0:
                continue
            d = d_from_tof_scalar(tof[i], difc[p], difa[p], tzero[p])
            for k in range(n_peaks[row]):
                if core_lo[row, k] <= d < core_hi[row, k]:
                    b = component_of_pixel[p]
                    out[c, 0, row, k, b] += 1.0
                    out[c, 1, row, k, b] += 1.0 / difc[p]
                    out[c, 2, row, k, b] += sigma_rel[p]
                    break
    sums: np.ndarray = out.sum(axis=0)
    return sums


def _components(group_of_pixel: np.ndarray, table: DiffCalTable, row_of_pixel: np.ndarray, n: int) -> np.ndarray:
    """Each pixel's component: ``n`` equal bins of ln(DIFC_p) over its group's range."""
    comp = np.zeros(group_of_pixel.shape[0], np.int32)
    log_difc = np.log(table.difc)
    for row in np.unique(row_of_pixel[row_of_pixel >= 0]):
        sel = row_of_pixel == row
        lo, hi = log_difc[sel].min(), log_difc[sel].max()
        comp[sel] = np.clip(((log_difc[sel] - lo) / max(hi - lo, 1e-12) * n).astype(np.int32), 0, n - 1)
    return comp


def peak_mixtures(
    *, pixel: np.ndarray, tof_us: np.ndarray, group_of_pixel: np.ndarray, table: DiffCalTable,
    peaks: Sequence[GroupPeakList], sigma_rel: np.ndarray, n_components: int = N_COMPONENTS,
) -> dict[int, list[PeakMixture | None]]:
    """The mixture of every predicted peak of every group (None: no events in the peak's core).

    ``sigma_rel`` is each pixel's relative resolution (any common factor: only ratios are used)."""
    group_ids = np.array([pl.group_id for pl in peaks], np.int64)
    known = np.isin(group_of_pixel, group_ids) & (table.use > 0)
    row_of_pixel = np.where(known, np.searchsorted(group_ids, group_of_pixel), -1).astype(np.int32)
    order = np.argsort(group_ids)
    group_ids, peaks = group_ids[order], [peaks[i] for i in order]
    max_peaks = max(1, max(len(pl.peaks) for pl in peaks))
    core_lo, core_hi = np.zeros((len(peaks), max_peaks)), np.zeros((len(peaks), max_peaks))
    for r, pl in enumerate(peaks):
        for k, pk in enumerate(pl.peaks):
            core_lo[r, k], core_hi[r, k] = pk.d_angstrom - pk.fwhm_angstrom, pk.d_angstrom + pk.fwhm_angstrom
    n_chunks = max(1, min(numba.get_num_threads() * 2, pixel.shape[0] // 1_000_000 + 1))
    sums = _component_sums(pixel, tof_us, row_of_pixel, _components(group_of_pixel, table, row_of_pixel, n_components),
                           table.difc, table.difa, table.tzero, np.asarray(sigma_rel, np.float64), core_lo, core_hi,
                           np.array([len(pl.peaks) for pl in peaks], np.int64), n_components, n_chunks)
    return {pl.group_id: [_mixture(sums[:, r, k]) for k in range(len(pl.peaks))] for r, pl in enumerate(peaks)}


def _mixture(sums: np.ndarray) -> PeakMixture | None:
    counts, inv_difc, sigma = sums
    keep = counts > 0
    if not keep.any():
        return None
    counts, inv_difc, sigma = counts[keep], inv_difc[keep], sigma[keep]
    mean_sigma = sigma.sum() / counts.sum()
    return PeakMixture(weights=list(counts / counts.sum()), difc_us_per_angstrom=list(counts / inv_difc),
                       width_scale=list(sigma / counts / mean_sigma))


def harmonic_difc(mixture: PeakMixture) -> float:
    """Count-weighted harmonic mean DIFC over the whole peak."""
    return float(1.0 / np.sum(np.asarray(mixture.weights) / np.asarray(mixture.difc_us_per_angstrom)))


def shifted(mixture: PeakMixture | None, difc_us_per_angstrom: float) -> PeakMixture | None:
    """The mixture after every pixel's DIFC moved by the same amount (a group alignment): each
    component's harmonic mean moves by it, to first order in ``shift / DIFC`` (~1e-3)."""
    if mixture is None:
        return None
    return mixture.model_copy(update={"difc_us_per_angstrom": [d + difc_us_per_angstrom
                                                               for d in mixture.difc_us_per_angstrom]})
