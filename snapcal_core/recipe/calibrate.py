"""The calibration recipe end to end: pixel loop, focusing, group fits, final assessment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.calibrant.peaks import PeakSettings, predicted_peaks_for_groups
from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.calibrant.types import GroupPeakList
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.parameters import group_parameters
from snapcal_core.instrument.resolution import delta_d_over_d
from snapcal_core.instrument.types import Grouping, GroupParameters
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.models import EventData
from snapcal_core.recipe.align import GroupShift, shift_from_fit, shift_table
from snapcal_core.recipe.difc_fit import FitMode
from snapcal_core.recipe.focus import FocusedSpectra, counts_per_pixel, focus_events, log_d_edges
from snapcal_core.recipe.group import (
    GroupCalibration,
    apply_group_fits,
    assess_focused_d,
    calibrate_groups,
    mean_per_group,
    tail_difc_per_group,
)
from snapcal_core.recipe.held_out import HeldOutTables, focus_held_out
from snapcal_core.recipe.metrics import GroupMetrics
from snapcal_core.recipe.mixture import PeakMixture, peak_mixtures, shifted
from snapcal_core.recipe.peakfit import PeakFit, PeakFitSettings
from snapcal_core.recipe.pixel import PixelCalibrationResult, PixelCalibrationSettings, PixelIteration, log_step_for
from snapcal_core.recipe.pixel_scale import scaled_uncertainty, split_half_scale


class RecipeSettings(BaseModel):
    """Everything the recipe can be told (each part has its own defaults)."""

    fit_mode: FitMode = Field(FitMode.DIFC, description="Constants fitted per group")
    skip_pixel: bool = Field(False, description="Skip the cross-correlation loop")
    align_groups: bool = Field(
        True, description="After the pixel step, add each group's common DIFC/TZERO/DIFA offset (a provisional "
        "group fit) to its pixels and focus again before the final group fit (recipe/align.py)")
    pixel: PixelCalibrationSettings = PixelCalibrationSettings()
    peaks: PeakSettings = PeakSettings()
    peak_fit: PeakFitSettings = PeakFitSettings()
    mask_file: str = Field("", description="The user's pixel mask (SaveDiffCal table, MaskWorkspace NeXus or SaveMask "
                           "XML); its pixels are masked from the start (reason 'user'); empty: none")


@dataclass
class CalibrationResult:
    """What :func:`calibrate` returns (arrays indexed by pixel id)."""

    table: DiffCalTable
    initial_table: DiffCalTable
    groups: list[GroupParameters]
    peak_lists: list[GroupPeakList]
    pixel: PixelCalibrationResult | None
    group_fits: list[GroupCalibration]
    metrics: list[GroupMetrics]
    fits_in_d: dict[int, list[PeakFit]]
    focused: FocusedSpectra = field(repr=False)
    held_out_focus: bool = False  # the group step used held-out constants (recipe/held_out.py)
    group_shifts: dict[int, GroupShift] = field(default_factory=dict)  # added before the final fit (recipe/align.py)
    group_tzero_us: dict[int, float] = field(default_factory=dict)  # mean TZERO of each group's pixels in ``table``

    @property
    def iterations(self) -> list[PixelIteration]:
        return self.pixel.iterations if self.pixel is not None else []

    @property
    def mask(self) -> np.ndarray:
        """True where a pixel is masked."""
        masked: np.ndarray = self.table.use == 0
        return masked


def geometric_table(events: EventData, grouping: Grouping) -> DiffCalTable:
    """DIFC from the instrument geometry of the run's state, every pixel of a group in use."""
    st = events.metadata.state
    geometry = snap_geometry(arc_deg=st.arc_deg, lin_m=st.lin_m, lite=events.lite)
    return DiffCalTable.from_difc(geometry.difc_us_per_angstrom, group=grouping.group_of_pixel,
                                  instrument_name="SNAPLite" if events.lite else "SNAP")


@dataclass
class GroupStep:
    """What the group fits need: every group focused with the pixel-calibrated constants (or with
    held-out constants, ``held_out``, for sparse pixels)."""

    current: DiffCalTable = field(repr=False)
    groups: list[GroupParameters]
    peak_lists: list[GroupPeakList]
    focused: FocusedSpectra = field(repr=False)
    difc_arb: dict[int, float]
    difc_tail: dict[int, float] = field(default_factory=dict)  # converts the B2B tail law (tail_difc_per_group)
    held_out: HeldOutTables | None = field(default=None, repr=False)
    shifts: dict[int, GroupShift] = field(default_factory=dict)  # already added to ``current`` (recipe/align.py)
    mixtures: dict[int, list[PeakMixture | None]] = field(default_factory=dict)  # per peak (recipe/mixture.py)


def groups_and_peaks(
    *, events: EventData, grouping: Grouping, reflections: Sequence[Reflection], settings: RecipeSettings,
    mask: np.ndarray | None,
) -> tuple[list[GroupParameters], list[GroupPeakList]]:
    """Each group's parameters in the run's state (``mask``, the user's, left out) and its predicted calibrant peaks."""
    st = events.metadata.state
    geometry = snap_geometry(arc_deg=st.arc_deg, lin_m=st.lin_m, lite=events.lite)
    groups = group_parameters(geometry=geometry, grouping=grouping, wavelength_angstrom=st.wavelength_angstrom,
                              mask=mask)
    return groups, predicted_peaks_for_groups(reflections=reflections, groups=groups, settings=settings.peaks)


def prepare_group_step(
    *, events: EventData, grouping: Grouping, groups: list[GroupParameters], peaks: list[GroupPeakList],
    settings: RecipeSettings, current: DiffCalTable, held: HeldOutTables | None = None,
) -> GroupStep:
    """The events focused in log d with the ``current`` constants, ready for the group fits.

    Sparse pixels after a pixel step are focused with the ``held`` out constants instead
    (:mod:`snapcal_core.recipe.held_out`, made by the pixel step's finish). After a pixel step the
    groups are aligned first (:func:`align_group_step`)."""
    edges = log_d_edges(d_min_angstrom=min(g.d_min_angstrom for g in groups),
                        d_max_angstrom=max(g.d_max_angstrom for g in groups),
                        log_step=log_step_for(peaks, bins_per_resolution=settings.pixel.bins_per_resolution))
    counts = _counts_per_pixel(events, grouping)
    step = _focused_step(events, grouping, counts, edges, current=current, held=held, groups=groups, peaks=peaks)
    if settings.skip_pixel or not settings.align_groups:
        return step
    return align_group_step(events=events, grouping=grouping, step=step, settings=settings, counts=counts)


def align_group_step(*, events: EventData, grouping: Grouping, step: GroupStep, settings: RecipeSettings,
                     counts: np.ndarray) -> GroupStep:
    """A provisional fit of every group, its common offset added to the group's pixels
    (:mod:`snapcal_core.recipe.align`), and the events focused again with the shifted constants."""
    fits = calibrate_groups(focused=step.focused, peaks=step.peak_lists, difc_arb=step.difc_arb,
                            mode=settings.fit_mode, settings=settings.peak_fit, difc_tail=step.difc_tail,
                            mixtures=step.mixtures)
    shifts = {gc.group_id: shift_from_fit(fit=gc.difc_fit, difc_arb=gc.difc_arb,
                                          difc_harmonic=step.difc_tail[gc.group_id]) for gc in fits}
    current = shift_table(step.current, group_of_pixel=grouping.group_of_pixel, shifts=shifts)
    held = None
    if step.held_out is not None:
        t0, t1 = (shift_table(t, group_of_pixel=grouping.group_of_pixel, shifts=shifts) for t in step.held_out.tables)
        held = HeldOutTables(tables=(t0, t1))
    mixtures = {g: [shifted(m, shifts[g].difc_us_per_angstrom) for m in ms] for g, ms in step.mixtures.items()}
    return _focused_step(events, grouping, counts, step.focused.d_edges_angstrom, current=current, held=held,
                         groups=step.groups, peaks=step.peak_lists, shifts=shifts, mixtures=mixtures)


def _focused_step(events: EventData, grouping: Grouping, counts: np.ndarray, edges: np.ndarray, *,
                  current: DiffCalTable, held: HeldOutTables | None, groups: list[GroupParameters],
                  peaks: list[GroupPeakList], shifts: dict[int, GroupShift] | None = None,
                  mixtures: dict[int, list[PeakMixture | None]] | None = None) -> GroupStep:
    """The events focused with ``current`` (or its held-out tables), each group's focusing DIFCs and
    each peak's pixel mixture (counted from the events unless given)."""
    g, ids = grouping.group_of_pixel, grouping.group_ids
    if mixtures is None:
        st = events.metadata.state
        two_theta = snap_geometry(arc_deg=st.arc_deg, lin_m=st.lin_m, lite=events.lite).two_theta_rad
        mixtures = peak_mixtures(pixel=events.pixel, tof_us=events.tof_us, group_of_pixel=g, table=current,
                                 peaks=peaks, sigma_rel=delta_d_over_d(two_theta_rad=two_theta))
    return GroupStep(current=current, groups=groups, peak_lists=peaks, focused=_focus(events, grouping, current, held, edges),
                     difc_arb=mean_per_group(values=current.difc, table=current, group_of_pixel=g, group_ids=ids),
                     difc_tail=tail_difc_per_group(table=current, group_of_pixel=g, group_ids=ids, counts=counts),
                     held_out=held, shifts=shifts or {}, mixtures=mixtures)


def _counts_per_pixel(events: EventData, grouping: Grouping) -> np.ndarray:
    return counts_per_pixel(events.pixel, grouping.group_of_pixel.shape[0])


def _focus(events: EventData, grouping: Grouping, table: DiffCalTable, held: HeldOutTables | None,
           edges: np.ndarray) -> FocusedSpectra:
    if held is None:
        return focus_events(pixel=events.pixel, tof_us=events.tof_us, group_of_pixel=grouping.group_of_pixel,
                            table=table, d_edges_angstrom=edges)
    return focus_held_out(pixel=events.pixel, tof_us=events.tof_us, group_of_pixel=grouping.group_of_pixel,
                          held_out=held, d_edges_angstrom=edges)


def finish_calibration(
    *, events: EventData, grouping: Grouping, step: GroupStep, group_fits: Sequence[GroupCalibration],
    settings: RecipeSettings, initial: DiffCalTable, pixel_result: PixelCalibrationResult | None,
) -> CalibrationResult:
    """Apply the group fits, focus again with the final constants and assess every group in d."""
    final = apply_group_fits(table=step.current, group_of_pixel=grouping.group_of_pixel, groups=group_fits)
    held = None
    if step.held_out is not None:
        t0, t1 = (apply_group_fits(table=t, group_of_pixel=grouping.group_of_pixel, groups=group_fits)
                  for t in step.held_out.tables)
        held = HeldOutTables(tables=(t0, t1))
    final_focused = _focus(events, grouping, final, held, step.focused.d_edges_angstrom)
    shape_difc = tail_difc_per_group(table=final, group_of_pixel=grouping.group_of_pixel, group_ids=grouping.group_ids,
                                     counts=_counts_per_pixel(events, grouping))
    metrics, fits_in_d = assess_focused_d(focused=final_focused, peaks=step.peak_lists, groups=step.groups,
                                          difc_shape=shape_difc, settings=settings.peak_fit)
    return CalibrationResult(table=final, initial_table=initial, groups=step.groups, peak_lists=step.peak_lists,
                             pixel=pixel_result, group_fits=list(group_fits), metrics=metrics, fits_in_d=fits_in_d,
                             focused=final_focused, held_out_focus=step.held_out is not None,
                             group_shifts=step.shifts,
                             group_tzero_us=mean_per_group(values=final.tzero, table=final,
                                                           group_of_pixel=grouping.group_of_pixel,
                                                           group_ids=grouping.group_ids))


def scale_uncertainties(result: PixelCalibrationResult, *, halves: tuple[PixelCalibrationResult, PixelCalibrationResult],
                        grouping: Grouping) -> None:
    """Replace the loop's per-pixel uncertainties by the bound times each group's split-half factor
    (:mod:`snapcal_core.recipe.pixel_scale`), recorded in ``result.error_scale``."""
    scale = split_half_scale(halves=halves, group_of_pixel=grouping.group_of_pixel, group_ids=grouping.group_ids,
                             counts=result.counts_in_windows)
    result.difc_uncertainty = scaled_uncertainty(bound=result.statistical_bound, group_of_pixel=grouping.group_of_pixel,
                                                 scale=scale, counts=result.counts_in_windows)
    result.error_scale = scale.factor
