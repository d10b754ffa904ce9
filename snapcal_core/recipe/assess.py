"""Assess any focused data set (ours or Mantid's) against a calibrant: peaks and metrics per group.

A spectrum's group geometry comes from the file's detectors when it locates them, else from
groups given by the caller (``--grouping`` plus a detector state: :func:`given_group_parameters`).
A spectrum that cannot be assessed (no counts, no geometry, too few peaks) is a group with an
outcome and its reason, never an exception: the other groups are still assessed.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.calibrant.peaks import PeakSettings, predicted_peaks
from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.constants import L1_M
from snapcal_core.errors import GroupMappingError, MissingGeometryError, PeakListError
from snapcal_core.instrument.geometry import difc_from_geometry, snap_geometry
from snapcal_core.instrument.parameters import group_parameters
from snapcal_core.instrument.resolution import delta_d_over_d
from snapcal_core.instrument.tof import d_from_tof
from snapcal_core.instrument.types import Grouping, GroupParameters
from snapcal_core.io.nxprocessed import UNITS_TOF, FocusedWorkspace, read_focused_workspace
from snapcal_core.recipe.metrics import GroupMetrics, group_metrics
from snapcal_core.recipe.peakfit import PeakFit, PeakFitSettings, fit_peaks

#: What to pass instead when the file has no geometry (named in every MissingGeometryError).
GEOMETRY_OPTIONS = ("--grouping NAME --lite|--native with one of --run N, --arc A1 A2 --lin L1 L2 "
                    "[--wavelength W], --state STATEID")


class GroupOutcome(str, enum.Enum):
    """What became of one focused spectrum."""

    ASSESSED = "assessed"
    NO_COUNTS = "no_counts"  # masked: every bin is zero or not finite
    NO_GEOMETRY = "no_geometry"  # the file locates none of its detectors and no group was given
    TOO_FEW_PREDICTED_PEAKS = "too_few_predicted_peaks"  # the group's d range holds too few reflections
    TOO_FEW_FITTED_PEAKS = "too_few_fitted_peaks"  # fewer accepted fits than PeakSettings.min_peaks


class GroupAssessment(BaseModel):
    """Metrics of one focused spectrum, the peaks behind them, or why it could not be assessed."""

    group_id: int
    spectrum_number: int
    outcome: GroupOutcome = GroupOutcome.ASSESSED
    reason: str = Field("", description="Why the outcome is not 'assessed' (empty when it is)")
    geometry_source: str = Field(description="Where the group geometry came from (file datasets or given groups)")
    metrics: GroupMetrics
    peaks: list[PeakFit]

    @property
    def assessed(self) -> bool:
        return self.outcome is GroupOutcome.ASSESSED


#: Defaults for data we did not make: measured SNAP peaks are about twice as wide as the
#: resolution formula says (sigma/d 0.0026 at 121 deg), so windows of 1.5 FWHM would cut them;
#: their tail shape is unknown, so the profile is symmetric (as SNAPRed's metrics are).
ASSESS_PEAKS = PeakSettings(fwhm_multiplier_left=3.0, fwhm_multiplier_right=3.0)
ASSESS_FIT = PeakFitSettings(profile="gaussian", min_counts=0.0)


def given_group_parameters(
    *, arc_deg: tuple[float, float], lin_m: tuple[float, float], wavelength_angstrom: float, grouping: Grouping,
) -> list[GroupParameters]:
    """Group geometry of ``grouping`` for a detector state (SNAP geometry at ``arc``/``lin``), by group id."""
    geometry = snap_geometry(arc_deg=arc_deg, lin_m=lin_m, lite=grouping.lite)
    return group_parameters(geometry=geometry, grouping=grouping, wavelength_angstrom=wavelength_angstrom)


def match_groups(ws: FocusedWorkspace, groups: Sequence[GroupParameters]) -> tuple[list[GroupParameters], str]:
    """The group of every spectrum, and how they were matched.

    By spectrum number when the file's spectrum numbers are exactly the group ids; else, with as
    many spectra as groups, in order (Mantid's DiffractionFocussing writes groups by increasing
    id); else a :class:`GroupMappingError` naming both counts.
    """
    by_id = {g.group_id: g for g in groups}
    numbers = [int(n) for n in ws.spectrum_numbers]
    if sorted(numbers) == sorted(by_id):
        return [by_id[n] for n in numbers], "by spectrum number"
    if len(numbers) == len(by_id):
        return [by_id[k] for k in sorted(by_id)], "in group-id order"
    raise GroupMappingError(
        f"{ws.path}: {len(numbers)} spectra (numbers {numbers[:8]}{'...' if len(numbers) > 8 else ''}) but the "
        f"grouping has {len(by_id)} groups (ids {sorted(by_id)[:8]}): give the grouping the file was focused with")


def spectrum_constants(ws: FocusedWorkspace, index: int, *, group: GroupParameters | None,
                       ) -> tuple[float, float, float, str]:
    r"""``(DIFC, DIFA, TZERO, source)`` turning spectrum ``index`` from TOF into d.

    As Mantid's ``SpectrumInfo::diffractometerConstants``: the mean over the spectrum's detectors
    of the file's calibrated constants (``instrument_parameter_map``), a detector without them
    taking its geometric :math:`\mathrm{DIFC} = \frac{2 m_n}{h} (L_1 + L_2) \sin\theta`; with no
    constants in the file, the mean geometric DIFC of its located detectors; else the given group's.
    """
    tt, l2 = ws.two_theta_deg[index], ws.l2_m[index]
    geometric = difc_from_geometry(l_total_m=L1_M + l2, two_theta_rad=np.deg2rad(tt))
    if ws.diffcal is not None and np.isfinite(ws.diffcal[index][:, 0]).any():
        table = ws.diffcal[index].copy()
        fill = ~np.isfinite(table[:, 0])
        table[fill] = np.column_stack([geometric[fill], np.zeros((fill.sum(), 2))])
        table = table[np.isfinite(table[:, 0])]
        difc, difa, tzero = table.mean(axis=0)
        return float(difc), float(difa), float(tzero), "mean instrument_parameter_map DIFC"
    if np.isfinite(geometric).any():
        return float(np.nanmean(geometric)), 0.0, 0.0, "mean geometric DIFC of the file's detectors"
    if group is not None:
        return group.difc_us_per_angstrom, 0.0, 0.0, "geometric DIFC of the given group"
    raise MissingGeometryError(
        f"{ws.path}: spectrum {int(ws.spectrum_numbers[index])}: workspace/axis1 is in {UNITS_TOF} (us) and the "
        f"file has no DIFC for it (no instrument_parameter_map DIFC, no located detector): give {GEOMETRY_OPTIONS}")


def spectrum_in_d(ws: FocusedWorkspace, index: int, *, group: GroupParameters | None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    r"""``(d, counts, errors, conversion)`` of a spectrum: d at bin centres (or points), counts per
    bin, and how TOF became d (empty for a d axis).

    TOF is turned into d bin edge by bin edge with :func:`spectrum_constants` (the smallest
    positive root of :math:`T = \mathrm{DIFA}\,d^2 + \mathrm{DIFC}\,d + T_0`). A distribution
    histogram (values per unit x) is multiplied by its bin widths :math:`\Delta x` in file units.
    """
    x, y, e = ws.x[index], ws.values[index], ws.errors[index]
    if ws.histogram and ws.distribution and x.size > 1:
        y, e = y * np.diff(x), e * np.diff(x)
    conversion = ""
    if ws.units == UNITS_TOF:
        difc, difa, tzero, source = spectrum_constants(ws, index, group=group)
        x = d_from_tof(tof_us=x, difc=difc, difa=difa, tzero=tzero)
        conversion = f"TOF to d with the {source} ({difc:.2f} us/A)"
    d = 0.5 * (x[1:] + x[:-1]) if ws.histogram else x
    return d, y, e, conversion


def _variance(counts: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Squared errors; a bin without one takes the largest (data may be normalised, errors dropped)."""
    positive = errors > 0
    if positive.any():
        return np.where(positive, errors**2, np.max(errors[positive] ** 2))
    return np.full(counts.shape, max(float(np.mean(np.abs(counts))), np.finfo(float).tiny))


def file_group_parameters(ws: FocusedWorkspace, index: int) -> GroupParameters | None:
    r"""Group geometry from the file's located detectors, None when it locates none.

    SNAPRed's weighting (as :func:`~snapcal_core.instrument.parameters.group_parameters`), with
    :math:`w_i = \sin(2\theta_i/2)`: :math:`2\theta_g = \sum w_i 2\theta_i / \sum w_i`, likewise
    :math:`L_{2,g}`; dd/d is SCIENCE.md's formula at :math:`2\theta_g` (the file has no pixel shapes).
    The d range is left open: :func:`assess_spectrum` cuts it to where the data are.
    """
    tt_deg, l2 = ws.two_theta_deg[index], ws.l2_m[index]
    ok = np.isfinite(tt_deg) & np.isfinite(l2)
    if not ok.any():
        return None
    weight = np.sin(0.5 * np.deg2rad(tt_deg[ok]))
    if not weight.sum() > 0:
        weight = np.ones(ok.sum())
    tt = float(np.deg2rad(np.average(tt_deg[ok], weights=weight)))
    l2_mean = float(np.average(l2[ok], weights=weight))
    return GroupParameters(group_id=int(ws.spectrum_numbers[index]), n_pixels=int(ok.sum()),
                           n_masked=int((~ok).sum()), two_theta_rad=tt, two_theta_deg=float(np.rad2deg(tt)),
                           l2_m=l2_mean, delta_d_over_d=float(delta_d_over_d(two_theta_rad=tt)), d_min_angstrom=0.0,
                           d_max_angstrom=float("inf"),
                           difc_us_per_angstrom=float(difc_from_geometry(l_total_m=L1_M + l2_mean, two_theta_rad=tt)))


class _Common(TypedDict):
    """The fields every assessment of a spectrum shares (keyword arguments of :func:`_failed`)."""

    group_id: int
    spectrum: int
    source: str


def _failed(*, group_id: int, spectrum: int, outcome: GroupOutcome, reason: str, source: str,
            two_theta_deg: float = float("nan"), peaks: list[PeakFit] | None = None) -> GroupAssessment:
    peaks = peaks or []
    return GroupAssessment(group_id=group_id, spectrum_number=spectrum, outcome=outcome, reason=reason,
                           geometry_source=source, peaks=peaks,
                           metrics=group_metrics(group_id=group_id, fits_in_d=peaks, two_theta_deg=two_theta_deg))


def assess_spectrum(
    ws: FocusedWorkspace, index: int, *, group: GroupParameters | None, source: str,
    reflections: Sequence[Reflection], peak_settings: PeakSettings, fit_settings: PeakFitSettings,
) -> GroupAssessment:
    """Fit the predicted peaks of one spectrum, inside the group's peak d range cut to where the data are.

    No group: ``no_geometry``; no non-zero finite bin: ``no_counts``. Data may be normalised (e.g.
    counts per uA.h), so acceptance uses the peak's significance rather than an absolute count.
    """
    spectrum = int(ws.spectrum_numbers[index])
    gid = group.group_id if group is not None else spectrum
    common = _Common(group_id=gid, spectrum=spectrum, source=source)
    if group is None:
        return _failed(**common, outcome=GroupOutcome.NO_GEOMETRY,
                       reason=f"the file locates none of the {ws.detector_ids[index].size} detectors of spectrum "
                              f"{spectrum} and no group geometry was given")
    d, counts, errors, conversion = spectrum_in_d(ws, index, group=group)
    if conversion:
        common["source"] = f"{source}; {conversion}"
    has = np.isfinite(counts) & np.isfinite(d) & (counts != 0)
    if not has.any():
        return _failed(**common, outcome=GroupOutcome.NO_COUNTS, two_theta_deg=group.two_theta_deg,
                       reason=f"spectrum {spectrum} has no counts (every bin zero or not finite): masked")
    return _fit_group(d, counts, errors, has=has, group=group, common=common, reflections=reflections,
                      peak_settings=peak_settings, fit_settings=fit_settings)


def _fit_group(
    d: np.ndarray, counts: np.ndarray, errors: np.ndarray, *, has: np.ndarray, group: GroupParameters, common: _Common,
    reflections: Sequence[Reflection], peak_settings: PeakSettings, fit_settings: PeakFitSettings,
) -> GroupAssessment:
    """Predicted peaks in the group's peak d range cut to the data (``has``), fitted; outcome by count."""
    lo, hi = group.peak_d_range_angstrom
    cut = group.model_copy(update={"d_min_angstrom": max(lo, float(d[has].min())),
                                   "d_max_angstrom": min(hi, float(d[has].max())),
                                   "common_d_min_angstrom": None, "common_d_max_angstrom": None})
    try:
        plist = predicted_peaks(reflections=reflections, group=cut, settings=peak_settings)
    except PeakListError as exc:
        return _failed(**common, outcome=GroupOutcome.TOO_FEW_PREDICTED_PEAKS, reason=str(exc),
                       two_theta_deg=group.two_theta_deg)
    good = np.isfinite(counts) & np.isfinite(d)
    fits = fit_peaks(x=d[good], y=counts[good], variance=_variance(counts[good], errors[good]), peaks=plist.peaks,
                     settings=fit_settings, x_per_angstrom=1.0, difc_us_per_angstrom=group.difc_us_per_angstrom)
    n_ok = sum(f.accepted for f in fits)
    if n_ok < peak_settings.min_peaks:
        why = ", ".join(f"{f.d_ref_angstrom:.4f} {f.outcome.value}" for f in fits if not f.accepted)
        return _failed(**common, outcome=GroupOutcome.TOO_FEW_FITTED_PEAKS, two_theta_deg=group.two_theta_deg,
                       peaks=fits, reason=f"{n_ok} of {len(fits)} peaks fitted (need {peak_settings.min_peaks}); "
                                          f"rejected: {why or 'none'}")
    return GroupAssessment(group_id=common["group_id"], spectrum_number=common["spectrum"], peaks=fits,
                           geometry_source=common["source"], metrics=group_metrics(
                               group_id=common["group_id"], fits_in_d=fits, two_theta_deg=group.two_theta_deg))


def _no_geometry_message(ws: FocusedWorkspace) -> str:
    return (f"{ws.path}: the instrument block locates none of the detectors of its {ws.n_spectra} spectra "
            f"(instrument/name {ws.instrument_name or 'blank'!r}; instrument/physical_detectors polar_angle and "
            f"distance absent or unmatched; instrument/detector/detector_positions absent or all zero); "
            f"axis1 is in {ws.units!r}; give the group geometry with {GEOMETRY_OPTIONS}")


def workspace_groups(ws: FocusedWorkspace, *, groups: Sequence[GroupParameters] | None,
                     ) -> tuple[list[GroupParameters | None], list[str]]:
    """The group geometry of every spectrum and where it came from.

    Given ``groups`` win (matched by :func:`match_groups`); otherwise the file's located detectors
    (:func:`file_group_parameters`); a file that locates none is a :class:`MissingGeometryError`.
    """
    if groups is not None:
        matched, how = match_groups(ws, groups)
        return list(matched), [f"given groups, {how}"] * ws.n_spectra
    found = [file_group_parameters(ws, i) for i in range(ws.n_spectra)]
    if not any(g is not None for g in found):
        raise MissingGeometryError(_no_geometry_message(ws))
    return found, [f"file {ws.geometry_source}" if g is not None else "none" for g in found]


def assess_workspace(
    ws: FocusedWorkspace, *, reflections: Sequence[Reflection], peak_settings: PeakSettings = ASSESS_PEAKS,
    fit_settings: PeakFitSettings = ASSESS_FIT, groups: Sequence[GroupParameters] | None = None,
) -> list[GroupAssessment]:
    """:func:`assess_spectrum` for every spectrum of a read workspace, in file order."""
    found, sources = workspace_groups(ws, groups=groups)
    return [assess_spectrum(ws, i, group=found[i], source=sources[i], reflections=reflections,
                            peak_settings=peak_settings, fit_settings=fit_settings) for i in range(ws.n_spectra)]


def assess_focused(
    path: Path | str, *, reflections: Sequence[Reflection], peak_settings: PeakSettings = ASSESS_PEAKS,
    fit_settings: PeakFitSettings = ASSESS_FIT, groups: Sequence[GroupParameters] | None = None,
) -> list[GroupAssessment]:
    """Fit every predicted peak of every spectrum of a focused NXprocessed file and compute its metrics."""
    return assess_workspace(read_focused_workspace(path), reflections=reflections, peak_settings=peak_settings,
                            fit_settings=fit_settings, groups=groups)
