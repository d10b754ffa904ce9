"""Instrument resolution of SNAP."""

from __future__ import annotations

import numpy as np

from snapcal_core.constants import DL_OVER_L, DT_OVER_T, DTHETA_RAD


def delta_d_over_d(*, two_theta_rad: np.ndarray | float) -> np.ndarray:
    r"""Relative d resolution (a width, not a sigma) at scattering angle 2theta.

    .. math:: (\Delta d/d)^2 = (\Delta T/T)^2 + (\Delta L/L)^2 + (\Delta\theta / \tan\theta)^2
    """
    theta = 0.5 * np.asarray(two_theta_rad, dtype=np.float64)
    return np.sqrt(DT_OVER_T**2 + DL_OVER_L**2 + (DTHETA_RAD / np.tan(theta)) ** 2)
