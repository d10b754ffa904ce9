"""Per-group parameters: mean two-theta and L2, resolution, reachable d range, geometric DIFC."""

from __future__ import annotations

import numpy as np

from snapcal_core.instrument.band import wavelength_band_angstrom
from snapcal_core.instrument.geometry import InstrumentGeometry, difc_from_geometry
from snapcal_core.instrument.resolution import delta_d_over_d
from snapcal_core.instrument.types import GroupParameters, Grouping


def d_range_angstrom(*, two_theta_rad: np.ndarray, wavelength_angstrom: float) -> tuple[float, float]:
    r"""The d range that EVERY pixel of a group reaches in the band, :math:`d = \lambda / (2 \sin\theta)`.

    A peak outside it is cut by the band edge in some pixels, and a cut peak focused with whole
    ones has a biased centre, so calibration uses only this common range.
    """
    lo, hi = wavelength_band_angstrom(wavelength_angstrom=wavelength_angstrom)
    sin_theta = np.sin(0.5 * np.asarray(two_theta_rad))
    return float(lo / (2.0 * sin_theta.min())), float(hi / (2.0 * sin_theta.max()))


def group_parameters(
    *, geometry: InstrumentGeometry, grouping: Grouping, wavelength_angstrom: float
) -> list[GroupParameters]:
    """Parameters of every non-empty group (pixels of group 0 are ignored)."""
    if grouping.n_pixels != geometry.n_pixels:
        raise ValueError(f"grouping '{grouping.name}' has {grouping.n_pixels} pixels, geometry {geometry.n_pixels}")
    out = []
    for gid in grouping.group_ids:
        sel = grouping.group_of_pixel == gid
        two_theta = float(geometry.two_theta_rad[sel].mean())
        l2 = float(geometry.l2_m[sel].mean())
        d_min, d_max = d_range_angstrom(two_theta_rad=geometry.two_theta_rad[sel], wavelength_angstrom=wavelength_angstrom)
        out.append(
            GroupParameters(
                group_id=int(gid), n_pixels=int(sel.sum()), two_theta_rad=two_theta, two_theta_deg=float(np.rad2deg(two_theta)),
                l2_m=l2, delta_d_over_d=float(delta_d_over_d(two_theta_rad=two_theta)),
                d_min_angstrom=d_min, d_max_angstrom=d_max,
                difc_us_per_angstrom=float(difc_from_geometry(l_total_m=geometry.l1_m + l2, two_theta_rad=two_theta)),
            )
        )
    return out
