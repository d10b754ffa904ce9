"""Group alignment (recipe/align.py): the group-common offset the pixel step leaves free."""

import numpy as np
import pytest

from snapcal_core.calibrant.types import GroupPeakList, PredictedPeak
from snapcal_core.constants import FWHM_PER_SIGMA
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe.align import GroupShift, shift_from_fit, shift_table
from snapcal_core.recipe.difc_fit import DifcFit, DifcOutcome, FitMode
from snapcal_core.recipe.focus import focus_events, log_d_edges
from snapcal_core.recipe.group import apply_group_fits, calibrate_group, tail_difc_per_group
from snapcal_core.recipe.peakfit import PeakFitSettings

D_REF = (0.89, 1.08, 1.26, 2.06)
SIGMA_REL = 2e-3


def _fit(difc: float, tzero: float = 0.0, outcome: DifcOutcome = DifcOutcome.ACCEPTED) -> DifcFit:
    return DifcFit(mode=FitMode.DIFC_TZERO, outcome=outcome, difc=difc, tzero=tzero, difc_error=0.1, n_peaks=4)


def test_shift_from_fit_converts_the_focused_fit_with_the_harmonic_mean():
    shift = shift_from_fit(fit=_fit(5005.0, tzero=3.0), difc_arb=5000.0, difc_harmonic=4800.0)
    assert shift.difc_us_per_angstrom == pytest.approx(5.0 * 4800 / 5000)
    assert shift.tzero_us == pytest.approx(3.0 * 4800 / 5000)
    assert shift_from_fit(fit=_fit(5005.0, outcome=DifcOutcome.TOO_FEW_PEAKS), difc_arb=5000.0,
                          difc_harmonic=4800.0) == GroupShift()


def test_shift_table_moves_only_the_pixels_of_each_group():
    table = DiffCalTable.from_difc(np.array([100.0, 200.0, 300.0]), group=np.array([1, 2, 0]))
    out = shift_table(table, group_of_pixel=table.group,
                      shifts={1: GroupShift(difc_us_per_angstrom=2.0, tzero_us=0.5)})
    assert list(out.difc) == [102.0, 200.0, 300.0] and list(out.tzero) == [0.5, 0.0, 0.0]
    assert list(table.difc) == [100.0, 200.0, 300.0]  # a copy


def _group_with_additive_offset(offset_us_per_angstrom: float, seed: int = 5):
    """One wide group (DIFC spread +-15 %) whose true DIFC is the table's plus a common offset: what
    the pixel step's TOF-translated coordinate leaves (recipe/align.py). Wider pixels see the
    low-d reflections, narrower ones the high-d ones (each reflection a different subset)."""
    rng = np.random.default_rng(seed)
    n = 240
    difc_table = np.linspace(4200.0, 5700.0, n)
    truth = difc_table + offset_us_per_angstrom
    pixel, tof = [], []
    for i, d in enumerate(D_REF):
        seen = np.arange(n)[(np.arange(n) >= 40 * i) & (np.arange(n) < n - 40 * (len(D_REF) - 1 - i))]
        p = np.repeat(seen, 400)
        pixel.append(p)
        tof.append(truth[p] * d * (1.0 + SIGMA_REL * rng.standard_normal(p.size)))
    table = DiffCalTable.from_difc(difc_table, group=np.ones(n, np.int32))
    return table, truth, np.concatenate(pixel).astype(np.uint32), np.concatenate(tof)


def _fit_group(table, pixel, tof):
    peaks = GroupPeakList(group_id=1, peaks=[
        PredictedPeak(d_angstrom=d, d_min_angstrom=d * (1 - 12 * SIGMA_REL), d_max_angstrom=d * (1 + 12 * SIGMA_REL),
                      fwhm_angstrom=FWHM_PER_SIGMA * SIGMA_REL * d, intensity=1.0) for d in D_REF])
    focused = focus_events(pixel=pixel, tof_us=tof, group_of_pixel=table.group, table=table,
                           d_edges_angstrom=log_d_edges(d_min_angstrom=0.8, d_max_angstrom=2.3, log_step=2e-4))
    counts = np.bincount(pixel, minlength=table.n_rows)
    harmonic = tail_difc_per_group(table=table, group_of_pixel=table.group, group_ids=np.array([1]), counts=counts)[1]
    return calibrate_group(focused=focused, plist=peaks, difc_arb=float(table.difc.mean()), mode=FitMode.DIFC,
                           settings=PeakFitSettings(profile="gaussian"), difc_tail=harmonic), harmonic


def test_alignment_removes_the_trend_a_scale_leaves_across_a_wide_group():
    table, truth, pixel, tof = _group_with_additive_offset(10.0)  # ~2000 ppm, like a panel offset
    provisional, harmonic = _fit_group(table, pixel, tof)
    scaled = apply_group_fits(table=table, group_of_pixel=table.group, groups=[provisional])
    scaled_err = (scaled.difc / truth - 1) * 1e6
    assert np.ptp(scaled_err) > 500  # a factor turns the offset into a trend of ~ +-15 % of 2000 ppm

    shift = shift_from_fit(fit=provisional.difc_fit, difc_arb=provisional.difc_arb, difc_harmonic=harmonic)
    aligned = shift_table(table, group_of_pixel=table.group, shifts={1: shift})
    final_fit, _ = _fit_group(aligned, pixel, tof)
    final = apply_group_fits(table=aligned, group_of_pixel=table.group, groups=[final_fit])
    err = (final.difc / truth - 1) * 1e6
    assert np.max(np.abs(err)) < 20, np.max(np.abs(err))
    # each reflection saw a different subset, so the scaled focusing scattered the peaks (chi2 ~200)
    assert provisional.difc_fit.chi2_reduced > 20 and final_fit.difc_fit.chi2_reduced < 3
