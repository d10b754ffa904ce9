"""DIFC (+TZERO, +DIFA) from fitted peak positions, and how group results combine with pixels."""

from __future__ import annotations

import enum
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.recipe.peakfit import PeakFit


class FitMode(str, enum.Enum):
    """Which constants the group fit determines."""

    DIFC = "difc"
    DIFC_TZERO = "difc+tzero"
    DIFC_TZERO_DIFA = "difc+tzero+difa"


class DifcOutcome(str, enum.Enum):
    ACCEPTED = "accepted"
    TOO_FEW_PEAKS = "too_few_peaks"


class DifcFit(BaseModel):
    """Weighted least-squares fit of ``TOF = DIFA d^2 + DIFC d + TZERO`` to accepted peaks."""

    mode: FitMode
    outcome: DifcOutcome
    difc: float = Field(description="us/angstrom")
    tzero: float = Field(0.0, description="us")
    difa: float = Field(0.0, description="us/angstrom^2")
    difc_error: float = float("nan")
    tzero_error: float = 0.0
    difa_error: float = 0.0
    chi2_reduced: float = float("nan")
    n_peaks: int = 0


def fit_difc(
    *, d_ref_angstrom: np.ndarray, tof_us: np.ndarray, tof_error_us: np.ndarray, mode: FitMode = FitMode.DIFC,
    min_peaks: int = 2,
) -> DifcFit:
    r"""Weighted linear least squares of :math:`\mathrm{TOF} = \mathrm{DIFA}\,d^2 + \mathrm{DIFC}\,d + T_0`.

    Weights ``1/sigma^2``; the covariance is scaled by the reduced chi2 when that exceeds 1.
    Fewer points than ``max(min_peaks, n_parameters + 1)`` -> outcome TOO_FEW_PEAKS (NaN values),
    except that exactly ``n_parameters`` points are accepted for DIFC alone.
    """
    d, t, e = (np.asarray(a, dtype=np.float64) for a in (d_ref_angstrom, tof_us, tof_error_us))
    columns = {FitMode.DIFC: [d], FitMode.DIFC_TZERO: [d, np.ones_like(d)],
               FitMode.DIFC_TZERO_DIFA: [d, np.ones_like(d), d * d]}[mode]
    n_par = len(columns)
    if d.size < max(min_peaks, n_par + (0 if n_par == 1 else 1)):
        nan = float("nan")
        return DifcFit(mode=mode, outcome=DifcOutcome.TOO_FEW_PEAKS, difc=nan, n_peaks=int(d.size))
    a = np.stack(columns, axis=1) / e[:, None]
    coef, *_ = np.linalg.lstsq(a, t / e, rcond=None)
    resid = (a @ coef - t / e)
    dof = d.size - n_par
    chi2 = float(resid @ resid / dof) if dof > 0 else float("nan")
    cov = np.linalg.inv(a.T @ a) * (max(1.0, chi2) if dof > 0 else 1.0)
    err = np.sqrt(np.diag(cov))
    values = dict(difc=coef[0], difc_error=err[0])
    if n_par > 1:
        values.update(tzero=coef[1], tzero_error=err[1])
    if n_par > 2:
        values.update(difa=coef[2], difa_error=err[2])
    return DifcFit(mode=mode, outcome=DifcOutcome.ACCEPTED, chi2_reduced=chi2, n_peaks=int(d.size),
                   **{k: float(v) for k, v in values.items()})


def fit_difc_from_peaks(fits: Sequence[PeakFit], *, mode: FitMode, min_peaks: int = 2) -> DifcFit:
    """:func:`fit_difc` on the accepted peaks of a group (x units must be TOF)."""
    ok = [f for f in fits if f.accepted]
    return fit_difc(d_ref_angstrom=np.array([f.d_ref_angstrom for f in ok]), tof_us=np.array([f.centre for f in ok]),
                    tof_error_us=np.array([f.centre_error for f in ok]), mode=mode, min_peaks=min_peaks)


def combine_with_previous(
    *, fit: DifcFit, difc_arb: float, difc_prev: np.ndarray, difa_prev: np.ndarray, tzero_prev: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""New per-pixel constants from a group fit made on a spectrum focused to ``TOF_arb = DIFC_arb d``.

    A pixel event at TOF has ``d_p = (TOF - T_{0,p}) / DIFC_p`` (DIFA_p small), focused to
    ``x = DIFC_arb d_p``; the group fit gives ``x = DIFA_pd d^2 + DIFC_pd d + T_pd``. Hence

    .. math::
        \mathrm{DIFC}_\mathrm{eff} = \frac{\mathrm{DIFC}_{pd}}{\mathrm{DIFC}_{arb}} \mathrm{DIFC}_\mathrm{prev},\quad
        T_{0,\mathrm{eff}} = T_{0,\mathrm{prev}} + \frac{\mathrm{DIFC}_\mathrm{prev}}{\mathrm{DIFC}_{arb}} T_{pd},\quad
        \mathrm{DIFA}_\mathrm{eff} = \Big(\frac{\mathrm{DIFC}_{pd}}{\mathrm{DIFC}_{arb}}\Big)^2 \mathrm{DIFA}_\mathrm{prev}
            + \frac{\mathrm{DIFC}_\mathrm{prev}}{\mathrm{DIFC}_{arb}} \mathrm{DIFA}_{pd}
    """
    scale = fit.difc / difc_arb
    ratio = difc_prev / difc_arb
    return scale * difc_prev, scale**2 * difa_prev + ratio * fit.difa, tzero_prev + ratio * fit.tzero
