"""Predicted peaks per focus group: fit windows, then range, weak-peak and overlap purges.

SNAPRed's conventions (SCIENCE.md, "Calibrant reflections and predicted peak windows"), in order:
window of every reflection; keep those inside the crystal d range whose window lies inside the
group's reachable d range; drop the weak ones; drop both peaks of every overlapping pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.calibrant.types import GroupPeakList, PredictedPeak
from snapcal_core.constants import DIFC_FACTOR_US_PER_ANGSTROM_M, FWHM_PER_SIGMA, L1_M
from snapcal_core.errors import PeakListError
from snapcal_core.instrument.resolution import b2b_beta_per_us
from snapcal_core.instrument.types import GroupParameters


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
    r"""``(fwhm, d_lo, d_hi)`` of a reflection in a group, all in angstrom.

    .. math::
        \mathrm{FWHM} = 2\sqrt{2\ln 2} \cdot \tfrac12 (\Delta d/d)_g\, d, \qquad
        [d - l\,\mathrm{FWHM},\; d + r\,\mathrm{FWHM} + 2/\beta_d],

        \beta_d = \tfrac{2 m_n}{h} (L_1 + L_{2,g}) \sin\theta_g\, \beta_T(d)

    (:math:`\beta_d = \mathrm{DIFC}_g\,\beta_T` converts the exponential tail from TOF to d;
    ``2 m_n / h = 505.5568`` us/(angstrom m); :math:`\beta_T` is the instrument's tail law,
    :func:`~snapcal_core.instrument.resolution.b2b_beta_per_us`).
    """
    fwhm = FWHM_PER_SIGMA * 0.5 * group.delta_d_over_d * d_angstrom
    beta_t = b2b_beta_per_us(d_angstrom=d_angstrom)
    l_total_m = L1_M + group.l2_m
    beta_d = DIFC_FACTOR_US_PER_ANGSTROM_M * l_total_m * np.sin(0.5 * group.two_theta_rad) * beta_t
    return fwhm, d_angstrom - left * fwhm, d_angstrom + right * fwhm + 2.0 / beta_d


def _in_range(reflections: Sequence[Reflection], group: GroupParameters, s: PeakSettings
              ) -> tuple[list[PredictedPeak], list[float]]:
    """Peaks inside the crystal d range whose window fits the group's reachable range; and the rest."""
    kept: list[PredictedPeak] = []
    dropped: list[float] = []
    d_lo, d_hi = group.peak_d_range_angstrom
    for r in reflections:
        fwhm, lo, hi = peak_window(d_angstrom=r.d_angstrom, group=group, left=s.fwhm_multiplier_left,
                                   right=s.fwhm_multiplier_right)
        if (s.crystal_d_min_angstrom <= r.d_angstrom <= s.crystal_d_max_angstrom
                and lo >= d_lo and hi <= d_hi):
            kept.append(PredictedPeak(d_angstrom=r.d_angstrom, d_min_angstrom=lo, d_max_angstrom=hi,
                                      fwhm_angstrom=fwhm, intensity=r.powder_intensity, hkl=r.hkl))
        else:
            dropped.append(r.d_angstrom)
    return kept, dropped


def _without_overlaps(peaks: list[PredictedPeak]) -> tuple[list[PredictedPeak], list[float]]:
    """Drop both peaks of every pair whose windows overlap (``peaks`` sorted by d)."""
    overlapping: set[int] = set()
    for i in range(len(peaks) - 1):
        if peaks[i].d_max_angstrom > peaks[i + 1].d_min_angstrom:
            overlapping.update((i, i + 1))
    return ([p for i, p in enumerate(peaks) if i not in overlapping],
            [peaks[i].d_angstrom for i in sorted(overlapping)])


def _d_list(d_angstrom: list[float], most: int = 8) -> str:
    shown = ", ".join(f"{d:.4f}" for d in sorted(d_angstrom, reverse=True)[:most])
    return shown + (f", ... ({len(d_angstrom) - most} more)" if len(d_angstrom) > most else "")


def predicted_peaks(
    *, reflections: Sequence[Reflection], group: GroupParameters, settings: PeakSettings = PeakSettings()
) -> GroupPeakList:
    """Peaks of one group (by increasing d): in range, not weak, not overlapping.

    - range: ``crystal_d_min <= d <= crystal_d_max`` and the whole window (:func:`peak_window`)
      inside the group's reachable ``[d_min, d_max]``;
    - weak: ``F^2 m d^4 < weak_peak_fraction * max``, where max is the largest ``F^2 m d^4`` among
      the peaks that passed the range test in THIS group (a strong reflection the group cannot
      reach does not make its other peaks weak);
    - overlap: both peaks of every pair of overlapping windows (after the weak purge).

    Fewer than ``min_peaks`` left -> :class:`PeakListError` naming the group and listing the
    dropped d-spacings by reason.
    """
    s = settings
    in_range, dropped_range = _in_range(reflections, group, s)
    strongest = max((p.intensity for p in in_range), default=0.0)
    strong = sorted((p for p in in_range if p.intensity >= s.weak_peak_fraction * strongest), key=lambda p: p.d_angstrom)
    dropped_weak = [p.d_angstrom for p in in_range if p.intensity < s.weak_peak_fraction * strongest]
    kept, dropped_overlap = _without_overlaps(strong)
    if len(kept) < s.min_peaks:
        reasons = {
            f"outside crystal d [{s.crystal_d_min_angstrom:g}, {s.crystal_d_max_angstrom:g}] or window outside the "
            "group's d [{:.4f}, {:.4f}]".format(*group.peak_d_range_angstrom): dropped_range,
            f"weak (F^2 m d^4 < {s.weak_peak_fraction:g} x strongest in range)": dropped_weak,
            "overlapping windows": dropped_overlap,
        }
        why = "; ".join(f"{len(ds)} {reason}: {_d_list(ds)}" for reason, ds in reasons.items() if ds)
        raise PeakListError(f"group {group.group_id}: only {len(kept)} predicted peak(s) left of {len(reflections)} "
                            f"reflection(s) (need {s.min_peaks}); dropped: {why or 'none'}")
    return GroupPeakList(group_id=group.group_id, peaks=kept)


def predicted_peaks_for_groups(
    *, reflections: Sequence[Reflection], groups: Sequence[GroupParameters], settings: PeakSettings = PeakSettings()
) -> list[GroupPeakList]:
    """:func:`predicted_peaks` for every group, in the order given."""
    return [predicted_peaks(reflections=reflections, group=g, settings=settings) for g in groups]
