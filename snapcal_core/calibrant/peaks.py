"""Predicted peaks per group: windows, weak-peak and overlap purges (SNAPRed conventions).

For reflection d in group g (SCIENCE.md):

.. math::
    \\mathrm{FWHM} = 2.35482 \\cdot \\tfrac12 (\\Delta d/d)_g\\, d, \\qquad
    [d - l\\,\\mathrm{FWHM},\\; d + r\\,\\mathrm{FWHM} + 2/\\beta_d],\\qquad
    \\beta_d = 505.5568\\, L \\sin\\theta_g\\, (0.02 + 0.05/d^4)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.constants import DIFC_FACTOR_US_PER_ANGSTROM_M, L1_M
from snapcal_core.errors import PeakListError
from snapcal_core.instrument.types import GroupParameters
from snapcal_core.recipe.types import GroupPeakList, PredictedPeak

FWHM_PER_SIGMA = 2.35482


class PeakSettings(BaseModel):
    """Which reflections become predicted peaks, and how wide their windows are."""

    crystal_d_min_angstrom: float = Field(0.4, description="Smallest reflection d considered")
    crystal_d_max_angstrom: float = Field(100.0, description="Largest reflection d considered")
    weak_peak_fraction: float = Field(0.05, description="Drop peaks with F^2 m d^4 below this fraction of the strongest")
    fwhm_multiplier_left: float = Field(1.5, description="Window extent below d, in FWHM")
    fwhm_multiplier_right: float = Field(1.5, description="Window extent above d, in FWHM (plus the tail 2/beta_d)")
    min_peaks: int = Field(2, description="A group with fewer peaks cannot be calibrated")


def peak_window(
    *, d_angstrom: float, group: GroupParameters, left: float, right: float
) -> tuple[float, float, float]:
    """``(fwhm, d_lo, d_hi)`` of a reflection in a group (formula in the module docstring)."""
    fwhm = FWHM_PER_SIGMA * 0.5 * group.delta_d_over_d * d_angstrom
    beta_t = 0.02 + 0.05 / d_angstrom**4
    beta_d = DIFC_FACTOR_US_PER_ANGSTROM_M * (L1_M + group.l2_m) * np.sin(0.5 * group.two_theta_rad) * beta_t
    return fwhm, d_angstrom - left * fwhm, d_angstrom + right * fwhm + 2.0 / beta_d


def predicted_peaks(
    *, reflections: Sequence[Reflection], group: GroupParameters, settings: PeakSettings = PeakSettings()
) -> GroupPeakList:
    """Peaks of one group: inside crystal and reachable d range, not weak, not overlapping.

    "Weak" is relative to the strongest reflection whose window fits the group's reachable range.
    Both peaks of an overlapping pair are dropped. Fewer than ``min_peaks`` -> :class:`PeakListError`.
    """
    dropped: dict[str, int] = {"outside d range": 0, "weak": 0, "overlap": 0}
    candidates: list[PredictedPeak] = []
    for r in reflections:
        fwhm, lo, hi = peak_window(d_angstrom=r.d_angstrom, group=group, left=settings.fwhm_multiplier_left,
                                   right=settings.fwhm_multiplier_right)
        inside = (settings.crystal_d_min_angstrom <= r.d_angstrom <= settings.crystal_d_max_angstrom
                  and lo >= group.d_min_angstrom and hi <= group.d_max_angstrom)
        if not inside:
            dropped["outside d range"] += 1
            continue
        candidates.append(PredictedPeak(d_angstrom=r.d_angstrom, d_min_angstrom=lo, d_max_angstrom=hi,
                                        fwhm_angstrom=fwhm, intensity=r.powder_intensity, hkl=r.hkl))
    strongest = max((p.intensity for p in candidates), default=0.0)
    strong = [p for p in candidates if p.intensity >= settings.weak_peak_fraction * strongest]
    dropped["weak"] = len(candidates) - len(strong)
    strong.sort(key=lambda p: p.d_angstrom)
    overlapping = set()
    for i in range(len(strong) - 1):
        if strong[i].d_max_angstrom > strong[i + 1].d_min_angstrom:
            overlapping.update((i, i + 1))
    kept = [p for i, p in enumerate(strong) if i not in overlapping]
    dropped["overlap"] = len(overlapping)
    if len(kept) < settings.min_peaks:
        why = ", ".join(f"{n} {reason}" for reason, n in dropped.items() if n)
        raise PeakListError(f"group {group.group_id}: only {len(kept)} predicted peak(s) left "
                            f"(need {settings.min_peaks}); dropped: {why or 'none'}")
    return GroupPeakList(group_id=group.group_id, peaks=kept)


def predicted_peaks_for_groups(
    *, reflections: Sequence[Reflection], groups: Sequence[GroupParameters], settings: PeakSettings = PeakSettings()
) -> list[GroupPeakList]:
    """:func:`predicted_peaks` for every group."""
    return [predicted_peaks(reflections=reflections, group=g, settings=settings) for g in groups]
