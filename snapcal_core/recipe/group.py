"""Group calibration: fit each focused group's peaks in TOF and fit DIFC (+TZERO, +DIFA) per group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from snapcal_core.calibrant.types import GroupPeakList
from snapcal_core.instrument.types import GroupParameters
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe.difc_fit import DifcFit, DifcOutcome, FitMode, combine_with_previous, fit_difc_from_peaks
from snapcal_core.recipe.focus import FocusedSpectra
from snapcal_core.recipe.metrics import GroupMetrics, group_metrics
from snapcal_core.recipe.mixture import PeakMixture
from snapcal_core.recipe.peakfit import PeakFit, PeakFitSettings, fit_peaks


@dataclass(frozen=True)
class GroupCalibration:
    """One group's fit: its peaks in focused TOF (``TOF_arb = DIFC_arb d``) and the DIFC fit."""

    group_id: int
    difc_arb: float
    fits: list[PeakFit]
    difc_fit: DifcFit


def mean_per_group(*, values: np.ndarray, table: DiffCalTable, group_of_pixel: np.ndarray,
                   group_ids: np.ndarray) -> dict[int, float]:
    """Mean of ``values`` (a table column) over the pixels in use of every group: with ``table.difc``
    the ``DIFC_arb`` of focusing, with ``table.tzero`` a group's TZERO. NaN for a group with no pixel in use."""
    out = {}
    for g in group_ids:
        sel = (group_of_pixel == g) & (table.use > 0)
        out[int(g)] = float(values[sel].mean()) if sel.any() else float("nan")
    return out


def tail_difc_per_group(*, table: DiffCalTable, group_of_pixel: np.ndarray, group_ids: np.ndarray,
                        counts: np.ndarray) -> dict[int, float]:
    r"""Count-weighted harmonic mean of DIFC over each group's pixels in use, ``H = 1 / <1/DIFC_p>``.

    A pixel's B2B tail has the length :math:`1/\beta_T` in its own TOF; in the focused axis
    ``DIFC_arb d`` it has :math:`\mathrm{DIFC_{arb}} / (\beta_T \mathrm{DIFC}_p)`, so the focused
    peak's tail is a mixture whose mean length is :math:`\mathrm{DIFC_{arb}} / (\beta_T H)`: the
    tail law converts to the focused axis with ``H``, not with the arithmetic mean (which would
    put the tail's centroid off by up to ~1e-5 of TOF in a wide group)."""
    out = {}
    for g in group_ids:
        sel = (group_of_pixel == g) & (table.use > 0)
        w = counts[sel]
        out[int(g)] = float(1.0 / np.average(1.0 / table.difc[sel], weights=w)) if w.sum() > 0 else float("nan")
    return out


def calibrate_group(
    *, focused: FocusedSpectra, plist: GroupPeakList, difc_arb: float, mode: FitMode, settings: PeakFitSettings,
    difc_tail: float | None = None, mixtures: Sequence[PeakMixture | None] | None = None,
) -> GroupCalibration:
    """Fit every predicted peak of one group in TOF_arb, then the group's constants (one unit of
    work: groups are independent, so they may run side by side or on other machines).
    ``difc_tail`` converts the B2B tail law to the focused axis (:func:`tail_difc_per_group`);
    ``mixtures`` (one per peak, recipe/mixture.py) replace it peak by peak."""
    counts = focused.spectrum(plist.group_id)
    x = difc_arb * focused.d_centres_angstrom
    fits = fit_peaks(x=x, y=counts, variance=np.maximum(counts, 1.0), peaks=plist.peaks, settings=settings,
                     x_per_angstrom=difc_arb, difc_us_per_angstrom=difc_tail if difc_tail is not None else difc_arb,
                     mixtures=mixtures)
    return GroupCalibration(group_id=plist.group_id, difc_arb=difc_arb, fits=fits,
                            difc_fit=fit_difc_from_peaks(fits, mode=mode))


def calibrate_groups(
    *, focused: FocusedSpectra, peaks: Sequence[GroupPeakList], difc_arb: dict[int, float], mode: FitMode,
    settings: PeakFitSettings, difc_tail: dict[int, float] | None = None,
    mixtures: dict[int, list[PeakMixture | None]] | None = None,
) -> list[GroupCalibration]:
    """:func:`calibrate_group` for every group, one after the other."""
    return [calibrate_group(focused=focused, plist=plist, difc_arb=difc_arb[plist.group_id], mode=mode,
                            settings=settings, difc_tail=(difc_tail or {}).get(plist.group_id),
                            mixtures=(mixtures or {}).get(plist.group_id)) for plist in peaks]


def apply_group_fits(*, table: DiffCalTable, group_of_pixel: np.ndarray, groups: Sequence[GroupCalibration]) -> DiffCalTable:
    """New table: each group's fit combined with its pixels' constants; failed groups are masked."""
    difc, difa, tzero, use = table.difc.copy(), table.difa.copy(), table.tzero.copy(), table.use.copy()
    for gc in groups:
        sel = group_of_pixel == gc.group_id
        if gc.difc_fit.outcome is not DifcOutcome.ACCEPTED:
            use[sel] = 0
            continue
        difc[sel], difa[sel], tzero[sel] = combine_with_previous(
            fit=gc.difc_fit, difc_arb=gc.difc_arb, difc_prev=table.difc[sel], difa_prev=table.difa[sel],
            tzero_prev=table.tzero[sel])
    return DiffCalTable(detid=table.detid, difc=difc, difa=difa, tzero=tzero, group=table.group, use=use,
                        instrument_name=table.instrument_name, instrument_source="snapcal")


def assess_focused_d(
    *, focused: FocusedSpectra, peaks: Sequence[GroupPeakList], groups: Sequence[GroupParameters],
    difc_shape: dict[int, float], settings: PeakFitSettings,
) -> tuple[list[GroupMetrics], dict[int, list[PeakFit]]]:
    """Fit peaks of d-focused spectra (x = d) and compute each group's quality metrics."""
    by_id = {g.group_id: g for g in groups}
    metrics, fits_by_group = [], {}
    for plist in peaks:
        g = plist.group_id
        counts = focused.spectrum(g)
        fits = fit_peaks(x=focused.d_centres_angstrom, y=counts, variance=np.maximum(counts, 1.0), peaks=plist.peaks,
                         settings=settings, x_per_angstrom=1.0, difc_us_per_angstrom=difc_shape[g])
        fits_by_group[g] = fits
        metrics.append(group_metrics(group_id=g, fits_in_d=fits, two_theta_deg=by_id[g].two_theta_deg))
    return metrics, fits_by_group
