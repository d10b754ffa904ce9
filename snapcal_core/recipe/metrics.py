"""Quality metrics per group (SCIENCE.md "Quality metrics") and DIFC change against another table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.instrument.types import Grouping
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe.peakfit import PeakFit


class GroupMetrics(BaseModel):
    """How good one group's calibration is, from peaks fitted in d with the final constants."""

    group_id: int
    sigma_mean: float = Field(description="Mean fitted sigma/d over accepted peaks")
    sigma_std: float
    strain_mean: float = Field(description="Mean of (d_ref - d_fit)/sigma_d")
    strain_std: float
    relative_strain_ppm_mean: float = Field(description="Mean of (d_fit - d_ref)/d_ref in ppm")
    relative_strain_ppm_std: float
    two_theta_deg: float
    n_peaks_fitted: int
    n_peaks_attempted: int
    chi2_mean: float


def group_metrics(*, group_id: int, fits_in_d: Sequence[PeakFit], two_theta_deg: float) -> GroupMetrics:
    r"""Metrics of peaks fitted on a d axis: :math:`\sigma/d`, strain :math:`(d_{ref}-d_{fit})/\sigma_d`,
    relative strain :math:`(d_{fit}-d_{ref})/d_{ref}` (ppm)."""
    ok = [f for f in fits_in_d if f.accepted]
    d_ref = np.array([f.d_ref_angstrom for f in ok])
    d_fit = np.array([f.centre for f in ok])
    sig = np.array([f.sigma for f in ok])

    def stats(v: np.ndarray) -> tuple[float, float]:
        return (float(v.mean()), float(v.std())) if v.size else (float("nan"), float("nan"))

    s_mean, s_std = stats(sig / d_fit)
    st_mean, st_std = stats((d_ref - d_fit) / sig)
    rel_mean, rel_std = stats((d_fit - d_ref) / d_ref * 1e6)
    chi2 = float(np.mean([f.chi2_reduced for f in ok])) if ok else float("nan")
    return GroupMetrics(group_id=group_id, sigma_mean=s_mean, sigma_std=s_std, strain_mean=st_mean, strain_std=st_std,
                        relative_strain_ppm_mean=rel_mean, relative_strain_ppm_std=rel_std, two_theta_deg=two_theta_deg,
                        n_peaks_fitted=len(ok), n_peaks_attempted=len(fits_in_d), chi2_mean=chi2)


class DifcChange(BaseModel):
    """Per-pixel relative DIFC change of a group, new against old, in ppm."""

    group_id: int
    mean_ppm: float
    std_ppm: float
    max_abs_ppm: float
    n_compared: int
    n_masked_either: int


def difc_change(*, new: DiffCalTable, old: DiffCalTable, grouping: Grouping) -> list[DifcChange]:
    """Summary per group of ``(DIFC_new / DIFC_old - 1)`` over pixels used in both tables."""
    if new.n_rows != old.n_rows or new.n_rows != grouping.n_pixels:
        raise ValueError(f"tables ({new.n_rows}, {old.n_rows} rows) and grouping ({grouping.n_pixels}) differ in size")
    both = (new.use > 0) & (old.use > 0) & (old.difc > 0)
    rel = np.where(both, new.difc / np.where(old.difc > 0, old.difc, 1.0) - 1.0, np.nan) * 1e6
    out = []
    for g in grouping.group_ids:
        sel = grouping.group_of_pixel == g
        v = rel[sel & both]
        nan = float("nan")
        out.append(DifcChange(group_id=int(g), mean_ppm=float(v.mean()) if v.size else nan,
                              std_ppm=float(v.std()) if v.size else nan,
                              max_abs_ppm=float(np.abs(v).max()) if v.size else nan, n_compared=int(v.size),
                              n_masked_either=int((sel & ~both).sum())))
    return out
