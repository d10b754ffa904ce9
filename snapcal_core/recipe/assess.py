"""Assess any focused d-spacing data set (ours or Mantid's) against a calibrant: peaks and metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel

from snapcal_core.calibrant.peaks import PeakSettings, predicted_peaks
from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.constants import L1_M
from snapcal_core.instrument.geometry import difc_from_geometry
from snapcal_core.instrument.resolution import delta_d_over_d
from snapcal_core.instrument.types import GroupParameters
from snapcal_core.io.nxprocessed import FocusedWorkspace, read_focused_workspace
from snapcal_core.recipe.metrics import GroupMetrics, group_metrics
from snapcal_core.recipe.peakfit import PeakFit, PeakFitSettings, fit_peaks


class GroupAssessment(BaseModel):
    """Metrics of one focused spectrum and the peaks behind them."""

    group_id: int
    metrics: GroupMetrics
    peaks: list[PeakFit]


def workspace_group_parameters(ws: FocusedWorkspace, index: int) -> GroupParameters:
    """Group geometry from the workspace's detectors; d range = where the spectrum has data."""
    tt = np.deg2rad(float(np.mean(ws.two_theta_deg[index])))
    l2 = float(np.mean(ws.l2_m[index]))
    d = ws.d_centres_angstrom[index][ws.values[index] > 0]
    return GroupParameters(group_id=int(ws.spectrum_numbers[index]), n_pixels=len(ws.two_theta_deg[index]),
                           two_theta_rad=tt, two_theta_deg=float(np.rad2deg(tt)), l2_m=l2,
                           delta_d_over_d=float(delta_d_over_d(two_theta_rad=tt)), d_min_angstrom=float(d.min()),
                           d_max_angstrom=float(d.max()),
                           difc_us_per_angstrom=float(difc_from_geometry(l_total_m=L1_M + l2, two_theta_rad=tt)))


#: Defaults for data we did not make: measured SNAP peaks are about twice as wide as the
#: resolution formula says (sigma/d 0.0026 at 121 deg), so windows of 1.5 FWHM would cut them;
#: their tail shape is unknown, so the profile is symmetric (as SNAPRed's metrics are).
ASSESS_PEAKS = PeakSettings(fwhm_multiplier_left=3.0, fwhm_multiplier_right=3.0)
ASSESS_FIT = PeakFitSettings(profile="gaussian", min_counts=0.0)


def assess_focused(
    path: Path | str, *, reflections: tuple[Reflection, ...], peak_settings: PeakSettings = ASSESS_PEAKS,
    fit_settings: PeakFitSettings = ASSESS_FIT,
) -> list[GroupAssessment]:
    """Fit every predicted peak of every spectrum of a focused workspace and compute its metrics.

    Data may be normalised (e.g. counts per uA.h), so acceptance uses the peak's significance
    rather than an absolute count.
    """
    ws = read_focused_workspace(path)
    out = []
    for i in range(len(ws.values)):
        group = workspace_group_parameters(ws, i)
        plist = predicted_peaks(reflections=reflections, group=group, settings=peak_settings)
        variance = np.where(ws.errors[i] > 0, ws.errors[i] ** 2, np.max(ws.errors[i] ** 2))
        fits = fit_peaks(x=ws.d_centres_angstrom[i], y=ws.values[i], variance=variance, peaks=plist.peaks,
                         settings=fit_settings, x_per_angstrom=1.0, difc_us_per_angstrom=group.difc_us_per_angstrom)
        out.append(GroupAssessment(group_id=group.group_id, metrics=group_metrics(
            group_id=group.group_id, fits_in_d=fits, two_theta_deg=group.two_theta_deg), peaks=fits))
    return out
