"""Pixel shapes and solid angles as Mantid computes them from the real IDFs' ``<cuboid>``."""

from __future__ import annotations

import numpy as np
import pytest

from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.pixel_shape import LITE_PIXEL, NATIVE_PIXEL, cuboid_solid_angle_sr, pixel_solid_angle_sr


def test_native_pixel_box_and_its_solid_angle_straight_ahead_is_the_squares():
    """Seen face-on from 0.5 m only the front face shows: a square's exact angle, 4 asin(a^2 / (a^2 + 4 d^2))."""
    assert NATIVE_PIXEL.extent_m() == pytest.approx((0.000618, 0.000618, 0.0001))
    a, d = 0.000618, 0.5
    omega = cuboid_solid_angle_sr(observer_m=np.array([[0.0, 0.0, d]]), cuboid=NATIVE_PIXEL)
    assert omega[0] == pytest.approx(4 * np.arcsin(a * a / (a * a + 4 * d * d)), rel=1e-9)


def test_lite_pixel_is_the_real_idfs_degenerate_strip():
    """The Lite IDF's right-front-bottom point repeats left-front-top: Mantid sees a 4A x 0.1 mm strip in
    the plane x = -A, edge-on from straight ahead (A = 2.472 mm)."""
    assert LITE_PIXEL.extent_m() == pytest.approx((0.0, 0.009888, 0.0001))
    omega = cuboid_solid_angle_sr(observer_m=np.array([[0.0, 0.0, 0.5], [0.3, 0.0, 0.5]]), cuboid=LITE_PIXEL)
    strip = 0.009888 * 0.0001
    assert omega[0] == pytest.approx(strip * 0.002472 / 0.5**3, rel=0.05)  # ~2e-8 sr, not ~1e-4
    r = np.linalg.norm([0.3 + 0.002472, 0.002472, 0.5])
    assert omega[1] == pytest.approx(strip * (0.3 + 0.002472) / r**3, rel=0.05)


def test_pixel_solid_angles_from_the_sample_fall_off_with_distance_and_obliquity():
    geometry = snap_geometry(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), lite=False)
    omega = pixel_solid_angle_sr(geometry)
    flat = 0.000618**2 / geometry.l2_m**2  # the face-on value at the pixel's distance
    assert np.all(omega > 0.6 * flat) and np.all(omega < 1.2 * flat)
    centre = np.argmin(geometry.l2_m)  # the pixel nearest the sample faces it squarely
    assert omega[centre] == pytest.approx(flat[centre], rel=0.01)
