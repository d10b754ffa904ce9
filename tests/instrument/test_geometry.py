"""The geometry built from SCIENCE.md facts agrees with Mantid's real SNAP IDFs, pixel by pixel.

The IDF is walked independently of ``snapcal_core`` (``tests/instrument/idf_walk.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from snapcal_core.constants import L1_M, N_LITE_PIXELS, N_NATIVE_PIXELS
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.lite import lite_map
from tests.instrument.idf_walk import positions_from_idf

ARC = (-65.3, 104.95)  # (det_arc1, det_arc2)
LIN = (0.045, 0.043)  # (det_lin1, det_lin2)
OTHER_ARC, OTHER_LIN = (-40.0, 80.0), (0.1, 0.0)
#: 2 m_n / h in us/(angstrom m) as SCIENCE.md quotes it (independent of snapcal's constant).
DIFC_FACTOR_QUOTED = 505.5568


@pytest.fixture(scope="module")
def native_idf(shared_reference):
    return positions_from_idf(shared_reference / "snap" / "SNAP_Definition.xml", arc_deg=ARC, lin_m=LIN)


@pytest.fixture(scope="module")
def native_geometry():
    return snap_geometry(arc_deg=ARC, lin_m=LIN, lite=False)


def test_pixel_positions_match_snap_idf(native_idf, native_geometry):
    expected, _ = native_idf
    assert expected.shape == native_geometry.position_m.shape == (N_NATIVE_PIXELS, 3)
    assert np.abs(native_geometry.position_m - expected).max() < 1e-6


@pytest.mark.parametrize("arc,lin", [(ARC, LIN), (OTHER_ARC, OTHER_LIN)])
def test_lite_pixel_positions_match_snaplite_idf(shared_reference, arc, lin):
    expected, _ = positions_from_idf(shared_reference / "snap" / "SNAPLite_Definition.xml", arc_deg=arc, lin_m=lin)
    geometry = snap_geometry(arc_deg=arc, lin_m=lin, lite=True)
    assert expected.shape == geometry.position_m.shape == (N_LITE_PIXELS, 3)
    assert np.abs(geometry.position_m - expected).max() < 1e-6


def test_l2_two_theta_and_difc_follow_from_idf_positions(native_idf, native_geometry):
    """L2 = |r|, 2theta = angle to the beam (+z), DIFC = 505.5568 (L1 + L2) sin(theta), every pixel."""
    pos, l1_m = native_idf
    assert native_geometry.l1_m == pytest.approx(l1_m) == L1_M
    l2 = np.linalg.norm(pos, axis=1)
    two_theta = np.arccos(pos[:, 2] / l2)
    np.testing.assert_allclose(native_geometry.l2_m, l2, rtol=0, atol=1e-6)
    np.testing.assert_allclose(native_geometry.two_theta_rad, two_theta, rtol=0, atol=1e-5)
    difc = DIFC_FACTOR_QUOTED * (l1_m + l2) * np.sin(0.5 * two_theta)
    np.testing.assert_allclose(native_geometry.difc_us_per_angstrom, difc, rtol=2e-6)


def test_lite_centres_are_means_of_their_native_pixels(native_geometry):
    lite = snap_geometry(arc_deg=ARC, lin_m=LIN, lite=True)
    mapping = lite_map()
    counts = np.bincount(mapping, minlength=N_LITE_PIXELS)
    assert np.all(counts == 64)
    mean = np.stack([np.bincount(mapping, weights=native_geometry.position_m[:, k]) / 64 for k in range(3)], axis=1)
    assert np.abs(mean - lite.position_m).max() < 1e-9


def test_each_arm_follows_its_own_logs():
    """East (panels 0-8) moves with det_arc2/det_lin2 only, West (9-17) with det_arc1/det_lin1 only."""
    base = snap_geometry(arc_deg=ARC, lin_m=LIN, lite=True).position_m
    east_moved = snap_geometry(arc_deg=(ARC[0], ARC[1] + 5.0), lin_m=(LIN[0], LIN[1] + 0.01), lite=True).position_m
    half = N_LITE_PIXELS // 2
    assert np.linalg.norm(east_moved[:half] - base[:half], axis=1).min() > 1e-3 and np.array_equal(east_moved[half:], base[half:])
    assert np.all(base[:half, 0] > 0) and np.all(base[half:, 0] < 0)  # arc2 > 0 puts East at +x


def test_columns_sit_at_decreasing_angles_on_the_east_arm(native_geometry):
    per_column = 3 * native_geometry.n_pixels // 18
    two_theta_deg = np.rad2deg(native_geometry.two_theta_rad)
    col_mean = [two_theta_deg[k * per_column:(k + 1) * per_column].mean() for k in range(3)]
    assert col_mean[0] > col_mean[1] > col_mean[2]
    assert 115 < col_mean[0] < 125
