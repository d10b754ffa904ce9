"""Physical and SNAP instrument constants, each derived or quoted once, with its unit in the name.

Sources: CODATA via :mod:`scipy.constants`; SNAP facts from ``shared/SCIENCE.md``.
"""

from __future__ import annotations

import scipy.constants as sc

#: ``2 m_n / h`` in us / (angstrom m): geometric DIFC = factor * L_total * sin(theta).
DIFC_FACTOR_US_PER_ANGSTROM_M: float = 2.0 * sc.m_n / sc.h * 1e6 * 1e-10
#: ``m_n / h`` in us / (angstrom m): TOF_us = factor * L_total_m * wavelength_angstrom.
TOF_PER_M_ANGSTROM_US: float = 0.5 * DIFC_FACTOR_US_PER_ANGSTROM_M

#: FWHM of a Gaussian in units of its sigma, :math:`2\sqrt{2\ln 2} = 2.354820045...`, written to
#: the 6 digits SNAPRed uses (its half factor 1.17741) so that peak windows are SNAPRed's to the bin
#: (the exact value moves one window edge of group 6 across a bin: up to 2.4 ppm on a 2e6-event run).
FWHM_PER_SIGMA: float = 2.35482

# --- SNAP geometry -------------------------------------------------------------------------
L1_M: float = 15.0
#: Panels per arm side (3x3 per arm, two arms).
N_PANELS: int = 18
PANEL_PIXELS_PER_SIDE: int = 256
PIXELS_PER_PANEL: int = PANEL_PIXELS_PER_SIDE * PANEL_PIXELS_PER_SIDE
N_NATIVE_PIXELS: int = N_PANELS * PIXELS_PER_PANEL  # 1,179,648
PIXEL_PITCH_M: float = 0.618e-3
PANEL_OFFSETS_M: tuple[float, float, float] = (-0.167548, 0.0, 0.167548)
ARM_BASE_RADIUS_M: float = 0.5

# --- Lite mode -------------------------------------------------------------------------------
LITE_BLOCK: int = 8
LITE_PIXELS_PER_SIDE: int = PANEL_PIXELS_PER_SIDE // LITE_BLOCK  # 32
LITE_PIXELS_PER_PANEL: int = LITE_PIXELS_PER_SIDE * LITE_PIXELS_PER_SIDE  # 1024
N_LITE_PIXELS: int = N_PANELS * LITE_PIXELS_PER_PANEL  # 18,432

# --- Resolution and band ---------------------------------------------------------------------
DT_OVER_T: float = 0.002
DL_OVER_L: float = 6.453e-5
#: Source angular spread (SNAPRed's ``SourceDeltaTheta``); SCIENCE.md's value.
DTHETA_RAD: float = 3.2e-3
#: SNAPRed's nominal L2 (``instrumentConfig.L2``): the source path spread is dL/L * (L1 + this).
NOMINAL_L2_M: float = 0.5
#: Depth of a pixel's cuboid in both IDFs (local z from 0 to -0.0001 m).
PIXEL_DEPTH_M: float = 1.0e-4
#: SNAPRed's ``constants.CropFactors``: its group d range is pulled in by these.
LOW_D_CROP_ANGSTROM: float = 0.1
HIGH_D_CROP_ANGSTROM: float = 0.15
BANDWIDTH_ANGSTROM: float = 3.0
FRAME_US: float = 1e6 / 60.0

# --- Reference state (SCIENCE.md) -------------------------------------------------------------
REFERENCE_ARC_DEG: tuple[float, float] = (-65.3, 104.95)
REFERENCE_LIN_M: tuple[float, float] = (0.045, 0.043)
REFERENCE_WAVELENGTH_ANGSTROM: float = 2.1
REFERENCE_FREQUENCY_HZ: float = 60.0
REFERENCE_GUIDE: int = 1
REFERENCE_STATE_ID: str = "04bd2c53f6bf6754"
