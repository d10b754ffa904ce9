"""Instrument resolution of SNAP: the d widths of a pixel and a group, and the tail law of its TOF peaks."""

from __future__ import annotations

from typing import overload

import numpy as np

from snapcal_core.constants import DL_OVER_L, DT_OVER_T, DTHETA_RAD, NOMINAL_L2_M
from snapcal_core.instrument.geometry import InstrumentGeometry

#: Constant term a of the tail law ``beta_T = a + b / d^4`` (:func:`b2b_beta_per_us`), 1/us.
BETA_T_A_PER_US: float = 0.02
#: d^-4 coefficient b of the tail law, angstrom^4/us.
BETA_T_B_ANGSTROM4_PER_US: float = 0.05
#: Rise rate of the back-to-back exponential as a multiple of its decay rate, ``alpha_T = 8 beta_T``.
ALPHA_OVER_BETA: float = 8.0


@overload
def b2b_beta_per_us(*, d_angstrom: float) -> float: ...
@overload
def b2b_beta_per_us(*, d_angstrom: np.ndarray) -> np.ndarray: ...
def b2b_beta_per_us(*, d_angstrom: float | np.ndarray) -> float | np.ndarray:
    r"""Decay rate of the back-to-back exponential tail of a TOF peak at d, per us (SCIENCE.md).

    .. math:: \beta_T = 0.02 + 0.05 / d^4

    and the rise rate is :math:`\alpha_T = 8 \beta_T` (:data:`ALPHA_OVER_BETA`). The tail is constant
    in TOF; in d its rate is :math:`\mathrm{DIFC}\,\beta_T`. A float stays a float. The simulator's
    numba kernel evaluates the same expression with these constants passed in as arguments.
    """
    return BETA_T_A_PER_US + BETA_T_B_ANGSTROM4_PER_US / d_angstrom**4


def delta_d_over_d(*, two_theta_rad: np.ndarray | float) -> np.ndarray:
    r"""Relative d resolution (a width, not a sigma) of one point-like pixel at scattering angle 2theta.

    SCIENCE.md's formula: the simulator's peak widths and the per-pixel profile widths use it. A
    group's dd/d is :func:`group_delta_d_over_d` (SNAPRed's convention).

    .. math:: (\Delta d/d)^2 = (\Delta T/T)^2 + (\Delta L/L)^2 + (\Delta\theta / \tan\theta)^2
    """
    theta = 0.5 * np.asarray(two_theta_rad, dtype=np.float64)
    return np.sqrt(DT_OVER_T**2 + DL_OVER_L**2 + (DTHETA_RAD / np.tan(theta)) ** 2)


def group_delta_d_over_d(
    *, geometry: InstrumentGeometry, group_index: np.ndarray, used: np.ndarray, n_groups: int,
) -> np.ndarray:
    r"""dd/d of each group as Mantid's ``EstimateResolutionDiffraction`` gives it for the grouped spectrum.

    SNAPRed groups the detectors (masked ones stay members) and asks Mantid for the resolution
    with ``DeltaTOFOverTOF`` = dT/T, ``SourceDeltaL`` = (dL/L) (L1 + 0.5 m) and
    ``SourceDeltaTheta`` = dtheta. Over the group's :math:`N_g` members, the sums over the unmasked
    pixels :math:`i` only:

    .. math::
        (\Delta d/d)_g^2 = (\Delta T/T)^2
          + \frac{1}{N_g} \sum_i \frac{(w_i^2 + h_i^2 + t_i^2)/4 + \Delta L_\mathrm{src}^2}{(L_1 + L_{2,i})^2}
          + \frac{1}{N_g} \sum_i (\Omega_i + \Delta\theta_\mathrm{src}^2) \cot^2\theta_i

    with :math:`w, h, t` the pixel's bounding box and :math:`\Omega_i` its solid angle from the
    sample (:mod:`snapcal_core.instrument.pixel_shape`). ``group_index[i]`` is pixel i's group
    (``n_groups`` for none), ``used[i]`` whether it is unmasked and in a group.
    """
    from snapcal_core.instrument.pixel_shape import pixel_shape, pixel_solid_angle_sr

    width, height, depth = pixel_shape(lite=geometry.lite).extent_m()
    source_dl_m = DL_OVER_L * (geometry.l1_m + NOMINAL_L2_M)
    length = ((width**2 + height**2 + depth**2) / 4.0 + source_dl_m**2) / (geometry.l1_m + geometry.l2_m) ** 2
    angle = (pixel_solid_angle_sr(geometry) + DTHETA_RAD**2) / np.tan(0.5 * geometry.two_theta_rad) ** 2
    where = np.where(used, group_index, n_groups)
    members = np.bincount(group_index, minlength=n_groups + 1)[:n_groups]
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = [np.bincount(where, weights=t, minlength=n_groups + 1)[:n_groups] / members for t in (length, angle)]
    return np.sqrt(DT_OVER_T**2 + terms[0] + terms[1])
