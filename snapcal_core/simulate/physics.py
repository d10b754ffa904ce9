"""What a SNAP powder measurement looks like: spectrum, intensities, peak shapes, background.

Model (documented choices):
- incident spectrum: a Maxwellian moderator at 300 K,
  :math:`\\phi(\\lambda) \\propto \\lambda^{-5} \\exp(-(\\lambda_T/\\lambda)^2)`, with
  :math:`\\lambda_T = 1.78` angstrom, plus a 5 % epithermal :math:`1/\\lambda` term;
- Bragg intensity of reflection h in pixel p: :math:`w_p |F_h|^2 m_h d_h^4 \\phi(2 d_h \\sin\\theta_p)`,
  zero outside the wavelength band; :math:`w_p = \\cos\\alpha_p / L_{2,p}^2` (solid angle);
- TOF profile: Gaussian with :math:`\\sigma_T = \\tfrac12 (\\Delta d/d)_p T` (the width SNAPRed's
  windows assume) convolved with a back-to-back exponential, the instrument's tail law
  (:func:`~snapcal_core.instrument.resolution.b2b_beta_per_us`: decay :math:`\\beta_T(d)`, rise
  :math:`\\alpha_T = 8 \\beta_T`);
- background: a fraction of the events, pixels by solid angle, wavelength by :math:`\\phi`;
- a detector's efficiency (:mod:`~snapcal_core.simulate.nuisances`) multiplies :math:`w_p`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.constants import L1_M
from snapcal_core.instrument.band import wavelength_band_angstrom
from snapcal_core.instrument.geometry import InstrumentGeometry
from snapcal_core.instrument.resolution import delta_d_over_d

LAMBDA_T_ANGSTROM = 1.78
EPITHERMAL_FRACTION = 0.05
#: Height of the 1/lambda epithermal term: 5 % of the Maxwellian's scale near its maximum.
EPITHERMAL_SCALE = EPITHERMAL_FRACTION * LAMBDA_T_ANGSTROM**-5 * 0.4**2.5 * np.exp(-0.4)


def incident_spectrum(*, wavelength_angstrom: np.ndarray) -> np.ndarray:
    r"""Relative flux per unit wavelength (see module docstring)."""
    lam = np.asarray(wavelength_angstrom, dtype=np.float64)
    flux: np.ndarray = lam**-5 * np.exp(-((LAMBDA_T_ANGSTROM / lam) ** 2)) + EPITHERMAL_SCALE / lam
    return flux


def solid_angle_weight(geometry: InstrumentGeometry, *, arc_deg: tuple[float, float]) -> np.ndarray:
    r"""Relative solid angle of each pixel, :math:`\cos\alpha / L_2^2` (flat panels facing the sample)."""
    n_per_panel = geometry.n_pixels // 18
    arc = np.deg2rad(np.repeat(np.array([arc_deg[1]] * 9 + [arc_deg[0]] * 9), n_per_panel))
    normal = np.stack([-np.sin(arc), np.zeros_like(arc), -np.cos(arc)], axis=1)
    cos_alpha = np.abs(np.einsum("ij,ij->i", geometry.position_m, normal)) / geometry.l2_m
    weight: np.ndarray = cos_alpha / geometry.l2_m**2
    return weight


@dataclass(frozen=True)
class PixelTables:
    """Per-pixel quantities the event kernel needs (float64 arrays indexed by pixel id)."""

    sin_theta: np.ndarray
    l_total_m: np.ndarray
    sigma_rel: np.ndarray  # Gaussian sigma_T / T
    bragg_cdf: np.ndarray  # cumulative Bragg weight over pixels, normalised to 1
    background_cdf: np.ndarray  # cumulative solid-angle weight, normalised to 1


def pixel_tables(
    geometry: InstrumentGeometry, *, reflections: tuple[Reflection, ...], arc_deg: tuple[float, float],
    wavelength_angstrom: float, efficiency: np.ndarray | None = None,
) -> PixelTables:
    """Build the per-pixel sampling tables for one state and calibrant.

    ``efficiency`` (relative, per pixel; 0 = records no neutron) multiplies both the Bragg and the
    background weight of each pixel; None leaves the tables of a perfect detector untouched.
    """
    sin_theta = np.sin(0.5 * geometry.two_theta_rad)
    weight = solid_angle_weight(geometry, arc_deg=arc_deg)
    if efficiency is not None:
        weight = weight * np.asarray(efficiency, dtype=np.float64)
    lo, hi = wavelength_band_angstrom(wavelength_angstrom=wavelength_angstrom)
    bragg = np.zeros(geometry.n_pixels)
    for r in reflections:
        lam = 2.0 * r.d_angstrom * sin_theta
        bragg += np.where((lam >= lo) & (lam <= hi), r.powder_intensity * incident_spectrum(wavelength_angstrom=lam), 0.0)
    bragg *= weight

    def cdf(w: np.ndarray) -> np.ndarray:
        c = np.cumsum(w)
        normalised: np.ndarray = c / c[-1]
        return normalised

    return PixelTables(
        sin_theta=sin_theta,
        l_total_m=L1_M + geometry.l2_m,
        sigma_rel=0.5 * delta_d_over_d(two_theta_rad=geometry.two_theta_rad),
        bragg_cdf=cdf(bragg),
        background_cdf=cdf(weight),
    )


def wavelength_cdf(*, wavelength_angstrom: float, n: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Grid and cumulative distribution of the incident spectrum inside the band (for background)."""
    lo, hi = wavelength_band_angstrom(wavelength_angstrom=wavelength_angstrom)
    grid = np.linspace(lo, hi, n)
    c = np.cumsum(incident_spectrum(wavelength_angstrom=grid))
    return grid, (c - c[0]) / (c[-1] - c[0])
