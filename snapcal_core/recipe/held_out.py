"""Held-out focusing for sparse pixels: focus each half of the events with constants from the other half.

With a few dozen events per pixel (native mode), a pixel's DIFC is fitted to the very events that
are then focused, and the cross-correlation pulls those events onto the reference's shape: the
focused group peaks come out with a comb whose period is a few bins, and the group fits fail
their chi2 test (reduced chi2 of 40-650 on a simulated 1e8-event native run; docs/accuracy.md).
Cross-fitting removes the dependence: one more pixel iteration on each half of the events
(even / odd event index), starting from the converged constants, gives two tables ``A`` and ``B``;
half ``A`` of the events is focused with table ``B`` and half ``B`` with table ``A``.

The sparse-pixel offset estimate carries a small bias common to a group (it shifts the group's
scale by 30-55 ppm per iteration at ~10 counts a window), and the group step measures the scale of
the focusing tables. So each half table is rescaled per group to the count-weighted mean DIFC of
the converged table first, over the pixels the two agree on (:func:`_match_group_means`); the
group fit then applies to the converged table unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from snapcal_core.calibrant.types import GroupPeakList
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe.focus import FocusedSpectra, focus_events
from snapcal_core.recipe.pixel import (
    PixelCalibrationResult,
    PixelCalibrationSettings,
    SortedEvents,
    calibrate_pixels,
    sort_events,
)


@dataclass(frozen=True)
class HeldOutTables:
    """The two half tables: ``tables[h]`` was fitted on the events of half ``h`` (``h::2``)."""

    tables: tuple[DiffCalTable, DiffCalTable] = field(repr=False)


def wants_held_out(*, counts_per_pixel: np.ndarray, group_of_pixel: np.ndarray,
                   settings: PixelCalibrationSettings) -> bool:
    """True when the median grouped pixel has fewer events than ``held_out_below_events`` (or forced)."""
    if settings.held_out_focus != "auto":
        return settings.held_out_focus == "always"
    grouped = counts_per_pixel[group_of_pixel > 0]
    return bool(grouped.size and np.median(grouped) < settings.held_out_below_events)


def half_iterations(
    *, pixel: np.ndarray, tof_us: np.ndarray, group_of_pixel: np.ndarray, peaks: Sequence[GroupPeakList],
    table: DiffCalTable, settings: PixelCalibrationSettings, sorted_events: SortedEvents | None = None,
) -> tuple[PixelCalibrationResult, PixelCalibrationResult]:
    """One pixel iteration on each half of the events (``h::2``) from ``table`` (the converged constants).

    A half has half the counts, so its ``min_counts`` is halved. ``sorted_events``: the events
    already grouped by pixel (:func:`~snapcal_core.recipe.pixel.sort_events`, sorted here if not
    given); each half is a view of them (:meth:`~snapcal_core.recipe.pixel.SortedEvents.half`)."""
    half_settings = settings.model_copy(update={"max_iterations": 1, "min_counts": max(1, settings.min_counts // 2)})
    grouped = sorted_events if sorted_events is not None and sorted_events.mid is not None \
        else sort_events(pixel, tof_us, group_of_pixel.shape[0])
    a, b = (calibrate_pixels(pixel=pixel, tof_us=tof_us, group_of_pixel=group_of_pixel, peaks=peaks, table=table,
                             settings=half_settings, sorted_events=grouped.half(h)) for h in (0, 1))
    return a, b


def held_out_tables(
    *, halves: Sequence[PixelCalibrationResult], group_of_pixel: np.ndarray, table: DiffCalTable,
) -> HeldOutTables:
    """The two half tables from the :func:`half_iterations` ``halves`` of ``table``, each rescaled per
    group to ``table``'s mean (a pixel masked in a half is only left out of the held-out focusing)."""
    tables = []
    for result in halves:
        use = (table.use > 0) & (result.use > 0)
        difc = _match_group_means(result.difc, table.difc, result.counts_in_windows, group_of_pixel, use)
        tables.append(DiffCalTable(detid=table.detid, difc=difc, difa=table.difa, tzero=table.tzero,
                                   group=table.group, use=use.astype(table.use.dtype),
                                   instrument_name=table.instrument_name))
    return HeldOutTables(tables=(tables[0], tables[1]))


def _match_group_means(difc: np.ndarray, target: np.ndarray, weights: np.ndarray, group_of_pixel: np.ndarray,
                       use: np.ndarray) -> np.ndarray:
    """``difc`` scaled per group so its count-weighted mean equals ``target``'s over the group's *core*:
    the pixels whose ratio ``difc / target`` is within 3 robust standard deviations of the median.

    The focused peaks are made by the core. A sparse pixel whose half iteration jumped to another
    maximum (0.4-0.6 % of the native pixels, mostly to one side) lands far from the peaks and does
    not move them, but it does move a plain mean: in native group 1 matching plain means left the
    core of each half table 5-7 ppm low, and the group DIFC that much high."""
    out = difc.copy()
    for g in np.unique(group_of_pixel[use & (group_of_pixel > 0)]):
        sel = use & (group_of_pixel == g)
        ratio = difc[sel] / target[sel]
        median = np.median(ratio)
        core = np.abs(ratio - median) <= 3.0 * 1.4826 * np.median(np.abs(ratio - median))
        w = np.maximum(weights[sel][core], 1e-12)
        out[sel] *= np.average(target[sel][core], weights=w) / np.average(difc[sel][core], weights=w)
    return out


def focus_held_out(
    *, pixel: np.ndarray, tof_us: np.ndarray, group_of_pixel: np.ndarray, held_out: HeldOutTables,
    d_edges_angstrom: np.ndarray,
) -> FocusedSpectra:
    """Half ``h`` of the events focused with the table of the other half, summed."""
    parts = [focus_events(pixel=pixel[h::2], tof_us=tof_us[h::2], group_of_pixel=group_of_pixel,
                          table=held_out.tables[1 - h], d_edges_angstrom=d_edges_angstrom) for h in (0, 1)]
    return FocusedSpectra(group_ids=parts[0].group_ids, d_edges_angstrom=d_edges_angstrom,
                          counts=parts[0].counts + parts[1].counts)
