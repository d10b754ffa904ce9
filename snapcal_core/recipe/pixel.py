"""Pixel calibration: align every pixel with its group by cross-correlation, iterated.

Each iteration histograms every pixel's events in log-d bins (step ``s``) inside windows around
its group's strongest predicted peaks, cross-correlates each pixel with the group's summed
spectrum (its own counts removed), and updates

.. math:: \\mathrm{DIFC}_\\mathrm{new} = \\mathrm{DIFC}_\\mathrm{old} (1 + |s|)^{-\\mathrm{offset}}

which is exact for logarithmic bins. The loop stops when the median |offset| falls below the
threshold, stops decreasing, or after ``max_iterations``. CC fixes only relative alignment inside
a group: the group's absolute scale is set afterwards by the group peak fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.calibrant.types import GroupPeakList
from snapcal_core.constants import FWHM_PER_SIGMA
from snapcal_core.data.screen import MaskReason
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe import pixel_kernels as k
from snapcal_core.recipe.faulty import FaultySettings, faulty_pixels

FWHM_PER_HALF_DD = FWHM_PER_SIGMA * 0.5


class PixelCalibrationSettings(BaseModel):
    """Knobs of the cross-correlation loop (SNAPRed's defaults where it has them)."""

    convergence_threshold_bins: float = Field(0.5, description="Stop when the median |offset| is below this")
    max_iterations: int = Field(5, description="Hard limit on iterations")
    max_offset_bins: float = Field(10.0, description="Mask pixels whose final |offset| exceeds this")
    min_counts: int = Field(20, description="Mask pixels with fewer counts in the reference windows")
    n_reference_peaks: int = Field(4, description="How many of a group's strongest peaks the CC uses")
    bins_per_resolution: float = Field(10.0, description="Log step = -(min dd/d) / this")
    max_shift_fwhm: float = Field(2.5, description="CC search range, in FWHM of the group's largest peak")
    held_out_focus: Literal["auto", "always", "never"] = Field(
        "auto", description="Focus the group step with held-out constants (recipe/held_out.py); auto: sparse pixels")
    held_out_below_events: float = Field(
        400.0, description="auto: held out when the median grouped pixel has fewer events than this (native mode)")
    faulty: FaultySettings = Field(FaultySettings(), description="Dead, hot and noisy pixels found before the loop")


class PixelIteration(BaseModel):
    """Statistics of one iteration of the loop."""

    iteration: int
    median_abs_offset_bins: float
    mean_abs_offset_bins: float
    max_abs_offset_bins: float
    n_pixels: int = Field(description="Pixels that belong to a group")
    n_masked: int = Field(description="Pixels masked after this iteration")
    n_newly_masked: int = Field(description="Masked by the loop so far (not masked in the input table)")


@dataclass(frozen=True)
class PixelWindows:
    """Compact histogram layout: per group row, the log-d windows and where they sit in a row."""

    group_ids: np.ndarray
    log_step: float
    d: np.ndarray  # (n_groups, n_windows) reference d of each window's peak
    lo: np.ndarray  # (n_groups, n_windows) log d of the first edge
    nbins: np.ndarray  # (n_groups, n_windows)
    offset: np.ndarray  # (n_groups, n_windows) column in the compact row
    count: np.ndarray  # (n_groups,) windows per group
    max_lag: int
    row_len: int


@dataclass
class PixelCalibrationResult:
    """Outcome of the pixel step (arrays indexed by pixel id)."""

    difc: np.ndarray
    use: np.ndarray
    difc_uncertainty: np.ndarray = field(repr=False)  # relative, from the last iteration
    statistical_bound: np.ndarray = field(repr=False)  # relative Cramer-Rao bound of the last iteration
    offsets_bins: np.ndarray = field(repr=False)
    counts_in_windows: np.ndarray = field(repr=False)
    log_step: float = 0.0
    iterations: list[PixelIteration] = field(default_factory=list)
    converged: bool = False
    stop_reason: str = ""
    #: Why each pixel is masked (MaskReason, uint8; NONE where it is used); set by the loop.
    mask_reason: np.ndarray | None = field(default=None, repr=False)
    #: Each group's split-half factor on the bound (recipe/pixel_scale.py); empty: sigma is the loop's own.
    error_scale: dict[int, float] = field(default_factory=dict)


def log_step_for(peaks: Sequence[GroupPeakList], *, bins_per_resolution: float) -> float:
    """``-(min_g (dd/d)_g) / bins_per_resolution`` with dd/d recovered from the predicted FWHM."""
    dd = min(p.fwhm_angstrom / p.d_angstrom / FWHM_PER_HALF_DD for g in peaks for p in g.peaks)
    return -dd / bins_per_resolution


def plan_windows(peaks: Sequence[GroupPeakList], settings: PixelCalibrationSettings) -> PixelWindows:
    """Choose each group's reference peaks and lay out their padded windows in a compact row."""
    step = abs(log_step_for(peaks, bins_per_resolution=settings.bins_per_resolution))
    chosen = [sorted(sorted(g.peaks, key=lambda p: -p.intensity)[: settings.n_reference_peaks],
                     key=lambda p: p.d_angstrom) for g in peaks]
    max_lag = max(int(np.ceil(settings.max_shift_fwhm * max(p.fwhm_angstrom / p.d_angstrom for p in c) / step))
                  for c in chosen)
    n_w = max(len(c) for c in chosen)
    lo = np.zeros((len(peaks), n_w))
    d = np.ones((len(peaks), n_w))
    nbins = np.zeros((len(peaks), n_w), np.int64)
    offset = np.zeros((len(peaks), n_w), np.int64)
    for g, c in enumerate(chosen):
        col = 0
        for w, p in enumerate(c):
            d[g, w] = p.d_angstrom
            lo[g, w] = np.log(p.d_min_angstrom) - max_lag * step
            nbins[g, w] = int(np.ceil(np.log(p.d_max_angstrom / p.d_min_angstrom) / step)) + 2 * max_lag
            offset[g, w] = col
            col += nbins[g, w]
    return PixelWindows(group_ids=np.array([g.group_id for g in peaks]), log_step=-step, d=d, lo=lo, nbins=nbins,
                        offset=offset, count=np.array([len(c) for c in chosen]), max_lag=max_lag,
                        row_len=int((nbins.sum(axis=1)).max()))


@dataclass(frozen=True)
class SortedEvents:
    """Events grouped by pixel (built once; the loop re-histograms them each iteration): pixel
    ``p``'s TOFs are ``tof_us[first[p]:last[p]]``; ``mid`` (when known) splits each block into the
    events of even and of odd index in the input (:meth:`half`)."""

    tof_us: np.ndarray
    first: np.ndarray
    last: np.ndarray
    mid: np.ndarray | None = None

    def counts(self) -> np.ndarray:
        """Events per pixel."""
        counts: np.ndarray = self.last - self.first
        return counts

    def half(self, h: int) -> SortedEvents:
        """The events ``h::2`` of the input (0: even index, 1: odd), grouped by pixel, without copying."""
        if self.mid is None:
            raise ValueError("these sorted events do not know their halves")
        return SortedEvents(tof_us=self.tof_us, first=self.mid if h else self.first, last=self.last if h else self.mid)


def sort_events(pixel: np.ndarray, tof_us: np.ndarray, n_pixels: int) -> SortedEvents:
    tof, start, mid = k.sort_by_pixel(np.ascontiguousarray(pixel), np.ascontiguousarray(tof_us, np.float32), n_pixels)
    return SortedEvents(tof_us=tof, first=start[:-1], last=start[1:], mid=mid)


def window_histograms(*, events: SortedEvents, row_group: np.ndarray, windows: PixelWindows, difc: np.ndarray,
                      table: DiffCalTable, use: np.ndarray) -> np.ndarray:
    """Every pixel's log-d histogram in its group's windows (one row per pixel)."""
    ok = (row_group >= 0) & (use > 0)
    group_difc = np.bincount(row_group[ok], weights=difc[ok], minlength=len(windows.group_ids)) / np.maximum(
        1, np.bincount(row_group[ok], minlength=len(windows.group_ids)))
    return k.window_histograms(events.tof_us, events.first, events.last, row_group, difc, table.difa, table.tzero, group_difc,
                               windows.d, windows.lo, windows.nbins, windows.offset, windows.count,
                               1.0 / abs(windows.log_step), windows.row_len)


def correlate(hist: np.ndarray, *, row_group: np.ndarray, windows: PixelWindows, use: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cross-correlate each pixel's histogram with its group's sum over the pixels in use."""
    reference = k.group_sums(hist, row_group, use, len(windows.group_ids))
    offset, sigma, bound, failed = k.cross_correlate(hist, reference, row_group, use, windows.nbins, windows.offset,
                                                     windows.count, windows.max_lag)
    return offset, sigma, bound, failed, hist.sum(axis=1)


def _row_group(group_of_pixel: np.ndarray, group_ids: np.ndarray) -> np.ndarray:
    row = np.searchsorted(group_ids, group_of_pixel)
    valid = (group_of_pixel > 0) & (row < len(group_ids))
    valid[valid] &= group_ids[row[valid]] == group_of_pixel[valid]
    return np.where(valid, row, -1).astype(np.int64)


@dataclass
class PixelLoop:
    """Everything the loop carries between iterations (so each iteration can run as its own task)."""

    windows: PixelWindows
    row_group: np.ndarray
    events: SortedEvents
    table: DiffCalTable
    input_masked: np.ndarray
    group_of_pixel: np.ndarray
    settings: PixelCalibrationSettings
    result: PixelCalibrationResult
    faulty: np.ndarray | None = None  # MaskReason per pixel found before the first correlation
    known: np.ndarray | None = None  # MaskReason per pixel already known (native pixels screened at load)
    input_reason: np.ndarray | None = None  # MaskReason of the pixels masked before the loop (none: all 'user')
    previous_median: float = np.inf
    done: bool = False


def start_loop(
    *, pixel: np.ndarray, tof_us: np.ndarray, group_of_pixel: np.ndarray, peaks: Sequence[GroupPeakList],
    table: DiffCalTable, settings: PixelCalibrationSettings = PixelCalibrationSettings(),
    input_use: np.ndarray | None = None, known_reason: np.ndarray | None = None,
    input_reason: np.ndarray | None = None, sorted_events: SortedEvents | None = None,
) -> PixelLoop:
    """Prepare the loop from ``table`` (current constants); ``input_use`` is the mask before the loop,
    ``known_reason`` the reasons of pixels already found faulty (native pixels screened at load),
    ``input_reason`` why the input's masked pixels are masked (a previous iteration's reasons, when
    iterating from its table; where NONE, or without it: the user's mask). ``sorted_events``: these
    events already sorted by pixel (:func:`sort_events`; sorting is the loop's dearest setup)."""
    peaks = sorted(peaks, key=lambda g: g.group_id)
    windows = plan_windows(peaks, settings)
    row_group = _row_group(group_of_pixel, windows.group_ids)
    in_group = row_group >= 0
    base_use = table.use if input_use is None else input_use
    difc = table.difc.astype(np.float64).copy()
    result = PixelCalibrationResult(difc=difc, use=(table.use > 0).astype(np.int32),
                                    difc_uncertainty=np.full(difc.shape, np.nan),
                                    statistical_bound=np.full(difc.shape, np.nan), offsets_bins=np.zeros(difc.shape),
                                    counts_in_windows=np.zeros(difc.shape), log_step=windows.log_step)
    return PixelLoop(windows=windows, row_group=row_group,
                     events=sorted_events or sort_events(pixel, tof_us, group_of_pixel.shape[0]),
                     table=table, input_masked=in_group & (base_use == 0), group_of_pixel=group_of_pixel,
                     settings=settings, result=result,
                     known=known_reason if known_reason is not None and known_reason.shape == group_of_pixel.shape
                     else None,
                     input_reason=input_reason if input_reason is not None and input_reason.shape == group_of_pixel.shape
                     else None)


def run_iteration(loop: PixelLoop, iteration: int) -> PixelIteration:
    """One iteration: histogram, correlate, mask failures, update DIFC, decide whether to stop."""
    r, w, settings = loop.result, loop.windows, loop.settings
    in_group = loop.row_group >= 0
    hist = window_histograms(events=loop.events, row_group=loop.row_group, windows=w, difc=r.difc, table=loop.table,
                             use=r.use)
    if loop.faulty is None:
        screen_faulty(loop, window_counts=hist.sum(axis=1))
    offset, sigma, bound, failed, counts = correlate(hist, row_group=loop.row_group, windows=w, use=r.use)
    r.use[in_group & (failed | (counts < settings.min_counts) | ~np.isfinite(offset))] = 0
    ok = in_group & (r.use > 0)
    r.difc[ok] *= (1.0 + abs(w.log_step)) ** (-offset[ok])
    r.offsets_bins, r.counts_in_windows = np.where(ok, offset, np.nan), counts
    r.difc_uncertainty = np.where(ok, sigma * abs(w.log_step), np.nan)
    r.statistical_bound = np.where(ok, bound * abs(w.log_step), np.nan)
    stats = _iteration_stats(iteration, offset[ok], in_group, r.use, loop.input_masked)
    r.iterations.append(stats)
    if stats.median_abs_offset_bins < settings.convergence_threshold_bins:
        r.converged, r.stop_reason = True, f"median |offset| below {settings.convergence_threshold_bins} bins"
    elif stats.median_abs_offset_bins >= loop.previous_median:
        r.stop_reason = "median |offset| stopped decreasing"
    elif iteration >= settings.max_iterations:
        r.stop_reason = f"reached {settings.max_iterations} iterations"
    loop.done = bool(r.stop_reason)
    loop.previous_median = stats.median_abs_offset_bins
    return stats


def screen_faulty(loop: PixelLoop, *, window_counts: np.ndarray) -> None:
    """Mask the dead, hot and noisy pixels (recipe/faulty.py) before the first correlation."""
    counts = loop.events.counts()[: loop.group_of_pixel.shape[0]]
    reason = faulty_pixels(counts=counts, window_counts=window_counts,
                           group_of_pixel=np.where(loop.row_group >= 0, loop.group_of_pixel, 0),
                           settings=loop.settings.faulty)
    if loop.known is not None:
        reason = np.where((loop.known > 0) & (loop.row_group >= 0), loop.known, reason).astype(np.uint8)
    reason[loop.input_masked] = MaskReason.NONE  # already masked: the user's reason stands
    loop.faulty = reason
    loop.result.use[reason > 0] = 0


def finish_loop(loop: PixelLoop) -> PixelCalibrationResult:
    """Mask pixels still far off after the last iteration; every masked pixel's reason."""
    faulty = loop.faulty if loop.faulty is not None else np.zeros(loop.group_of_pixel.shape[0], np.uint8)
    _mask_unconverged(loop.result, loop.row_group >= 0, loop.settings)
    reason = faulty.copy()
    masked = (loop.row_group >= 0) & (loop.result.use == 0)
    carried = loop.input_reason if loop.input_reason is not None else np.zeros_like(reason)
    reason[masked & loop.input_masked] = np.where(carried > 0, carried, MaskReason.USER)[masked & loop.input_masked]
    reason[masked & (reason == MaskReason.NONE) & _too_few_events(loop)] = MaskReason.LOW_COUNTS
    reason[masked & (reason == MaskReason.NONE)] = MaskReason.FAILED_FIT
    loop.result.mask_reason = reason
    return loop.result


def _too_few_events(loop: PixelLoop) -> np.ndarray:
    """Pixels too weak for an offset (e.g. a low-efficiency native pixel), as opposed to a failed
    correlation: their events, at their group's median share in the reference windows, are expected
    to give fewer than ``min_counts + 3 sqrt(min_counts)`` window counts (fewer than ``min_counts``
    is then a likely Poisson outcome). A pixel with plenty of events whose peaks miss the windows
    (far off) is a failed fit."""
    r, n = loop.result, loop.group_of_pixel.shape[0]
    total = loop.events.counts()[:n].astype(np.float64)
    expected = np.zeros(n)
    for row in np.unique(loop.row_group[loop.row_group >= 0]):
        sel = loop.row_group == row
        used = sel & (r.use > 0) & (total > 0)
        share = float(np.median(r.counts_in_windows[used] / total[used])) if used.any() else 0.0
        expected[sel] = total[sel] * share
    limit = loop.settings.min_counts + 3.0 * np.sqrt(loop.settings.min_counts)
    sparse: np.ndarray = (loop.row_group >= 0) & (expected < limit)
    return sparse


def calibrate_pixels(
    *, pixel: np.ndarray, tof_us: np.ndarray, group_of_pixel: np.ndarray, peaks: Sequence[GroupPeakList],
    table: DiffCalTable, settings: PixelCalibrationSettings = PixelCalibrationSettings(),
    on_iteration: Callable[[PixelIteration], None] | None = None, known_reason: np.ndarray | None = None,
    sorted_events: SortedEvents | None = None,
) -> PixelCalibrationResult:
    """Run the cross-correlation loop (module docstring) and return new DIFC, mask and statistics.
    ``sorted_events``: these events already grouped by pixel (:func:`sort_events`)."""
    loop = start_loop(pixel=pixel, tof_us=tof_us, group_of_pixel=group_of_pixel, peaks=peaks, table=table,
                      settings=settings, known_reason=known_reason, sorted_events=sorted_events)
    iteration = 0
    while not loop.done:
        iteration += 1
        stats = run_iteration(loop, iteration)
        if on_iteration is not None:
            on_iteration(stats)
    return finish_loop(loop)


def _iteration_stats(it: int, offsets: np.ndarray, in_group: np.ndarray, use: np.ndarray,
                     input_masked: np.ndarray) -> PixelIteration:
    a = np.abs(offsets)
    return PixelIteration(
        iteration=it, median_abs_offset_bins=float(np.median(a)) if a.size else float("nan"),
        mean_abs_offset_bins=float(a.mean()) if a.size else float("nan"),
        max_abs_offset_bins=float(a.max()) if a.size else float("nan"), n_pixels=int(in_group.sum()),
        n_masked=int((in_group & (use == 0)).sum()), n_newly_masked=int((in_group & (use == 0) & ~input_masked).sum()),
    )


def _mask_unconverged(result: PixelCalibrationResult, in_group: np.ndarray, settings: PixelCalibrationSettings) -> None:
    """Mask pixels whose last offset exceeds the limit. How many the loop masked is judged by the
    quality gate (SNAPRed's 15 % rule, ``QualityGate.max_failed_fit_fraction``), not here."""
    far = in_group & (np.abs(np.nan_to_num(result.offsets_bins)) > settings.max_offset_bins)
    result.use[far] = 0
