"""Wavelength band of a SNAP state and the TOF band it implies."""

from __future__ import annotations

import numpy as np

from snapcal_core.constants import BANDWIDTH_ANGSTROM, TOF_PER_M_ANGSTROM_US

#: The lower edge is pulled in by this much (SNAPRed's convention).
_LOWER_EDGE_TRIM_ANGSTROM = 0.05


def wavelength_band_angstrom(*, wavelength_angstrom: float) -> tuple[float, float]:
    """Band ``[w - B/2 + 0.05, w + B/2]`` in angstrom for central wavelength ``w`` and bandwidth B = 3."""
    half = 0.5 * BANDWIDTH_ANGSTROM
    return (wavelength_angstrom - half + _LOWER_EDGE_TRIM_ANGSTROM, wavelength_angstrom + half)


def tof_from_wavelength_us(*, l_total_m: np.ndarray | float, wavelength_angstrom: np.ndarray | float) -> np.ndarray:
    r"""TOF in us of a neutron of wavelength lambda over flight path L.

    .. math:: \mathrm{TOF} = \frac{m_n}{h} L \lambda = L \lambda / 3.956034\times10^{-3}
    """
    tof: np.ndarray = TOF_PER_M_ANGSTROM_US * np.asarray(l_total_m) * np.asarray(wavelength_angstrom)
    return tof


def tof_band_us(*, l_total_m: np.ndarray | float, wavelength_angstrom: float) -> tuple[np.ndarray, np.ndarray]:
    """TOF band (lo, hi) in us for flight path(s) ``l_total_m`` and central wavelength."""
    lo, hi = wavelength_band_angstrom(wavelength_angstrom=wavelength_angstrom)
    return (
        tof_from_wavelength_us(l_total_m=l_total_m, wavelength_angstrom=lo),
        tof_from_wavelength_us(l_total_m=l_total_m, wavelength_angstrom=hi),
    )
