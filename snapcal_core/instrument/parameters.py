"""Per-group parameters: mean two-theta and L2, resolution, reachable d range, geometric DIFC."""

from __future__ import annotations

import numpy as np

from snapcal_core.errors import GroupingError
from snapcal_core.instrument.band import wavelength_band_angstrom
from snapcal_core.instrument.geometry import InstrumentGeometry, difc_from_geometry
from snapcal_core.instrument.resolution import delta_d_over_d
from snapcal_core.instrument.types import GroupParameters, Grouping


def d_range_angstrom(*, two_theta_rad: np.ndarray, wavelength_angstrom: float) -> tuple[float, float]:
    r"""The d range that EVERY pixel of a group reaches in the band, :math:`d = \lambda / (2 \sin\theta)`.

    .. math:: d_\min = \frac{\lambda_\mathrm{lo}}{2 \sin\theta_\min}, \qquad
              d_\max = \frac{\lambda_\mathrm{hi}}{2 \sin\theta_\max}

    with :math:`[\lambda_\mathrm{lo}, \lambda_\mathrm{hi}]` the band of the state and
    :math:`\theta_\min, \theta_\max` the extreme pixels of the group. A peak outside it is cut by
    the band edge in some pixels, and a cut peak focused with whole ones has a biased centre, so
    calibration uses only this common range (empty, ``d_min > d_max``, for a group too wide for
    the band).
    """
    lo, hi = wavelength_band_angstrom(wavelength_angstrom=wavelength_angstrom)
    sin_theta = np.sin(0.5 * np.asarray(two_theta_rad))
    return float(lo / (2.0 * sin_theta.min())), float(hi / (2.0 * sin_theta.max()))


def _group_index(grouping: Grouping) -> tuple[np.ndarray, np.ndarray]:
    """Group ids (sorted, > 0) and each pixel's index into them; group-0 pixels get ``len(ids)``."""
    ids = grouping.group_ids
    gop = grouping.group_of_pixel
    index = np.where(gop > 0, np.searchsorted(ids, gop), ids.size)
    return ids, index


def group_parameters(
    *, geometry: InstrumentGeometry, grouping: Grouping, wavelength_angstrom: float
) -> list[GroupParameters]:
    r"""Parameters of every non-empty group, in group-id order (pixels of group 0 are ignored).

    For the pixels :math:`i \in g` (``N_g`` of them):

    .. math::
        2\theta_g = \frac{1}{N_g} \sum_{i \in g} 2\theta_i, \qquad
        L_{2,g} = \frac{1}{N_g} \sum_{i \in g} L_{2,i}, \qquad
        (\Delta d/d)_g = \sqrt{(\Delta T/T)^2 + (\Delta L/L)^2 + (\Delta\theta / \tan\theta_g)^2},

        \mathrm{DIFC}_g = \frac{2 m_n}{h} (L_1 + L_{2,g}) \sin\theta_g,

    and the d range of :func:`d_range_angstrom` over the group's extreme pixels.
    """
    if grouping.n_pixels != geometry.n_pixels or grouping.lite != geometry.lite:
        raise GroupingError(
            f"grouping '{grouping.name}' has {grouping.n_pixels} {'Lite' if grouping.lite else 'native'} pixels, "
            f"the geometry {geometry.n_pixels} {'Lite' if geometry.lite else 'native'}"
        )
    if np.any(grouping.group_of_pixel < 0):
        raise GroupingError(f"grouping '{grouping.name}' has negative group ids")
    ids, index = _group_index(grouping)
    if not ids.size:
        raise GroupingError(f"grouping '{grouping.name}' has no pixel in any group")
    n_bins = ids.size + 1  # the last bin collects group 0 and is dropped
    counts = np.bincount(index, minlength=n_bins)[:-1]
    two_theta = np.bincount(index, weights=geometry.two_theta_rad, minlength=n_bins)[:-1] / counts
    l2 = np.bincount(index, weights=geometry.l2_m, minlength=n_bins)[:-1] / counts
    tt_min = np.full(n_bins, np.inf)
    tt_max = np.full(n_bins, -np.inf)
    np.minimum.at(tt_min, index, geometry.two_theta_rad)
    np.maximum.at(tt_max, index, geometry.two_theta_rad)
    difc = difc_from_geometry(l_total_m=geometry.l1_m + l2, two_theta_rad=two_theta)
    resolution = delta_d_over_d(two_theta_rad=two_theta)
    out = []
    for k, gid in enumerate(ids):
        # sin(theta) rises with 2theta on [0, pi], so the extreme pixels are those of 2theta.
        d_min, d_max = d_range_angstrom(two_theta_rad=np.array([tt_min[k], tt_max[k]]),
                                        wavelength_angstrom=wavelength_angstrom)
        out.append(GroupParameters(
            group_id=int(gid), n_pixels=int(counts[k]), two_theta_rad=float(two_theta[k]),
            two_theta_deg=float(np.rad2deg(two_theta[k])), l2_m=float(l2[k]),
            delta_d_over_d=float(resolution[k]), d_min_angstrom=d_min, d_max_angstrom=d_max,
            difc_us_per_angstrom=float(difc[k]),
        ))
    return out
