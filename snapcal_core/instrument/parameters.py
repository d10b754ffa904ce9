"""Per-group parameters as SNAPRed computes them: two-theta, L2, dd/d, d range, geometric DIFC.

The convention is SNAPRed's ``PixelGroupingParametersCalculation`` (v2.3.1, see docs/formats.md):
masked pixels are left out of everything, two-theta and L2 are weighted by ``sin(2theta/2)``,
dd/d is Mantid's ``EstimateResolutionDiffraction`` applied to the grouped spectrum and the d range
is the band's reach over the group's extreme pixels with SNAPRed's crops.
"""

from __future__ import annotations

import numpy as np

from snapcal_core.constants import HIGH_D_CROP_ANGSTROM, LOW_D_CROP_ANGSTROM
from snapcal_core.errors import GroupingError
from snapcal_core.instrument.band import wavelength_band_angstrom
from snapcal_core.instrument.geometry import InstrumentGeometry, difc_from_geometry
from snapcal_core.instrument.resolution import group_delta_d_over_d
from snapcal_core.instrument.types import Grouping, GroupParameters


def d_range_angstrom(*, two_theta_rad: np.ndarray, wavelength_angstrom: float) -> tuple[float, float]:
    r"""The d range that EVERY pixel of a group reaches in the band, :math:`d = \lambda / (2 \sin\theta)`.

    .. math:: d_\min = \frac{\lambda_\mathrm{lo}}{2 \sin\theta_\min}, \qquad
              d_\max = \frac{\lambda_\mathrm{hi}}{2 \sin\theta_\max}

    with :math:`[\lambda_\mathrm{lo}, \lambda_\mathrm{hi}]` the band of the state and
    :math:`\theta_\min, \theta_\max` the extreme pixels of the group. A peak outside it is cut by
    the band edge in some pixels (empty, ``d_min > d_max``, for a group too wide for the band).
    """
    lo, hi = wavelength_band_angstrom(wavelength_angstrom=wavelength_angstrom)
    sin_theta = np.sin(0.5 * np.asarray(two_theta_rad))
    return float(lo / (2.0 * sin_theta.min())), float(hi / (2.0 * sin_theta.max()))


def snapred_d_range_angstrom(*, two_theta_rad: np.ndarray, wavelength_angstrom: float) -> tuple[float, float]:
    r"""SNAPRed's ``dResolution`` of a group: the d that SOME pixel reaches, cropped.

    .. math:: d_\min = \frac{\lambda_\mathrm{lo}}{2 \sin\theta_\max} + c_\mathrm{lo}, \qquad
              d_\max = \frac{\lambda_\mathrm{hi}}{2 \sin\theta_\min} - c_\mathrm{hi}

    (SNAPRed writes :math:`\lambda = C\,\mathrm{TOF}/L` with the state's TOF band, which is the
    same), :math:`c_\mathrm{lo} = 0.1` and :math:`c_\mathrm{hi} = 0.15` angstrom
    (``constants.CropFactors``).
    """
    lo, hi = wavelength_band_angstrom(wavelength_angstrom=wavelength_angstrom)
    sin_theta = np.sin(0.5 * np.asarray(two_theta_rad))
    return (float(lo / (2.0 * sin_theta.max()) + LOW_D_CROP_ANGSTROM),
            float(hi / (2.0 * sin_theta.min()) - HIGH_D_CROP_ANGSTROM))


def _check(geometry: InstrumentGeometry, grouping: Grouping, mask: np.ndarray | None) -> np.ndarray:
    """The mask as booleans (True = masked) after the shape checks, all False without one."""
    if grouping.n_pixels != geometry.n_pixels or grouping.lite != geometry.lite:
        raise GroupingError(
            f"grouping '{grouping.name}' has {grouping.n_pixels} {'Lite' if grouping.lite else 'native'} pixels, "
            f"the geometry {geometry.n_pixels} {'Lite' if geometry.lite else 'native'}"
        )
    if np.any(grouping.group_of_pixel < 0):
        raise GroupingError(f"grouping '{grouping.name}' has negative group ids")
    if mask is None:
        return np.zeros(geometry.n_pixels, bool)
    mask = np.asarray(mask)
    if mask.shape != (geometry.n_pixels,):
        raise GroupingError(f"the mask has shape {mask.shape}, the grouping '{grouping.name}' "
                            f"{geometry.n_pixels} pixels")
    return mask.astype(bool)


def _weighted_means(index: np.ndarray, n_bins: int, weight: np.ndarray,
                    *values: np.ndarray) -> list[np.ndarray]:
    """Per-bin weighted means of each of ``values``."""
    total = np.bincount(index, weights=weight, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return [np.bincount(index, weights=weight * v, minlength=n_bins) / total for v in values]


def group_parameters(
    *, geometry: InstrumentGeometry, grouping: Grouping, wavelength_angstrom: float,
    mask: np.ndarray | None = None,
) -> list[GroupParameters]:
    r"""Parameters of every group with an unmasked pixel, in group-id order (SNAPRed's convention).

    Pixels of group 0 and masked pixels (``mask[i]`` True) are left out; a group whose pixels are
    all masked is left out, as SNAPRed leaves it out. Over the unmasked pixels :math:`i \in g`,
    with :math:`w_i = \sin(2\theta_i / 2)`:

    .. math::
        2\theta_g = \frac{\sum_i w_i\, 2\theta_i}{\sum_i w_i}, \qquad
        L_{2,g} = \frac{\sum_i w_i L_{2,i}}{\sum_i w_i}, \qquad
        \mathrm{DIFC}_g = \frac{2 m_n}{h} (L_1 + L_{2,g}) \sin\theta_g,

    dd/d from :func:`~snapcal_core.instrument.resolution.group_delta_d_over_d`, the d range from
    :func:`snapred_d_range_angstrom` and the range every pixel reaches from :func:`d_range_angstrom`.
    """
    masked = _check(geometry, grouping, mask)
    ids = grouping.group_ids
    if not ids.size:
        raise GroupingError(f"grouping '{grouping.name}' has no pixel in any group")
    gop = grouping.group_of_pixel
    member = np.where(gop > 0, np.searchsorted(ids, gop), ids.size)  # group 0 -> the dropped bin
    used = np.where(masked, ids.size, member)
    n_bins = ids.size + 1
    n_members = np.bincount(member, minlength=n_bins)[:-1]
    n_used = np.bincount(used, minlength=n_bins)[:-1]
    two_theta, l2 = (m[:-1] for m in _weighted_means(used, n_bins, np.sin(0.5 * geometry.two_theta_rad),
                                                       geometry.two_theta_rad, geometry.l2_m))
    resolution = group_delta_d_over_d(geometry=geometry, group_index=member, used=used < ids.size,
                                      n_groups=ids.size)
    tt_min, tt_max = np.full(n_bins, np.inf), np.full(n_bins, -np.inf)
    np.minimum.at(tt_min, used, geometry.two_theta_rad)
    np.maximum.at(tt_max, used, geometry.two_theta_rad)
    difc = difc_from_geometry(l_total_m=geometry.l1_m + l2, two_theta_rad=two_theta)
    out = []
    for k in np.flatnonzero(n_used):
        extremes = np.array([tt_min[k], tt_max[k]])
        d_min, d_max = snapred_d_range_angstrom(two_theta_rad=extremes, wavelength_angstrom=wavelength_angstrom)
        common = d_range_angstrom(two_theta_rad=extremes, wavelength_angstrom=wavelength_angstrom)
        out.append(GroupParameters(
            group_id=int(ids[k]), n_pixels=int(n_used[k]), n_masked=int(n_members[k] - n_used[k]),
            two_theta_rad=float(two_theta[k]), two_theta_deg=float(np.rad2deg(two_theta[k])), l2_m=float(l2[k]),
            delta_d_over_d=float(resolution[k]), d_min_angstrom=d_min, d_max_angstrom=d_max,
            common_d_min_angstrom=common[0], common_d_max_angstrom=common[1],
            difc_us_per_angstrom=float(difc[k]),
        ))
    return out
