"""Per-group parameters equal hand-computed values and make sense for SNAP's Column grouping.

The comparison with SNAPRed's own figures is tests/instrument/test_snapred_parameters.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from snapcal_core.constants import L1_M, N_LITE_PIXELS
from snapcal_core.errors import GroupingError
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.instrument.parameters import d_range_angstrom, group_parameters, snapred_d_range_angstrom
from snapcal_core.instrument.pixel_shape import pixel_solid_angle_sr
from snapcal_core.instrument.types import Grouping

ARC, LIN, WAVELENGTH = (-65.3, 104.95), (0.045, 0.043), 2.1
BAND = (2.1 - 1.5 + 0.05, 2.1 + 1.5)


@pytest.fixture(scope="module")
def lite_geometry():
    return snap_geometry(arc_deg=ARC, lin_m=LIN, lite=True)


@pytest.fixture(scope="module")
def native_geometry():
    return snap_geometry(arc_deg=ARC, lin_m=LIN, lite=False)


def _params(geometry, groups, lite=True):
    return group_parameters(geometry=geometry, grouping=Grouping("test", lite, groups), wavelength_angstrom=WAVELENGTH)


def test_one_pixel_group_has_that_pixels_parameters(lite_geometry):
    groups = np.zeros(N_LITE_PIXELS, np.int32)
    groups[[10, 5000]] = [1, 2]
    params = _params(lite_geometry, groups)
    omega = pixel_solid_angle_sr(lite_geometry)
    assert [(p.group_id, p.n_pixels, p.n_masked) for p in params] == [(1, 1, 0), (2, 1, 0)]
    for p, pixel in zip(params, (10, 5000)):
        x, y, z = lite_geometry.position_m[pixel]
        l2 = np.sqrt(x * x + y * y + z * z)
        theta = 0.5 * np.arccos(z / l2)
        assert p.l2_m == pytest.approx(l2, rel=1e-12)
        assert p.two_theta_rad == pytest.approx(2 * theta, rel=1e-12)
        assert p.two_theta_deg == pytest.approx(np.degrees(2 * theta), rel=1e-12)
        length = ((0.009888**2 + 0.0001**2) / 4 + (6.453e-5 * 15.5) ** 2) / (L1_M + l2) ** 2  # Lite IDF's box
        angle = (omega[pixel] + 3.2e-3**2) / np.tan(theta) ** 2
        assert p.delta_d_over_d == pytest.approx(np.sqrt(0.002**2 + length + angle), rel=1e-12)
        assert p.difc_us_per_angstrom == pytest.approx(505.5568 * (L1_M + l2) * np.sin(theta), rel=1e-7)
        assert p.d_min_angstrom == pytest.approx(BAND[0] / (2 * np.sin(theta)) + 0.1)
        assert p.d_max_angstrom == pytest.approx(BAND[1] / (2 * np.sin(theta)) - 0.15)
        assert (p.common_d_min_angstrom, p.common_d_max_angstrom) == pytest.approx(
            (BAND[0] / (2 * np.sin(theta)), BAND[1] / (2 * np.sin(theta))))
        assert p.peak_d_range_angstrom == pytest.approx((p.d_min_angstrom, p.d_max_angstrom))


def test_group_means_weigh_by_sin_theta_and_d_ranges_use_extreme_pixels(lite_geometry):
    """Two pixels at different angles: sin(theta)-weighted means, SNAPRed's and the common d range."""
    pixels = np.array([0, N_LITE_PIXELS // 2 - 1])  # East column 1 and column 3 corners
    groups = np.zeros(N_LITE_PIXELS, np.int32)
    groups[pixels] = 9
    (p,) = _params(lite_geometry, groups)
    tt = lite_geometry.two_theta_rad[pixels]
    w = np.sin(0.5 * tt)
    assert abs(tt[0] - tt[1]) > 0.5  # really different angles
    assert p.group_id == 9 and p.n_pixels == 2
    assert p.two_theta_rad == pytest.approx((w * tt).sum() / w.sum())
    assert p.l2_m == pytest.approx((w * lite_geometry.l2_m[pixels]).sum() / w.sum())
    assert p.d_min_angstrom == pytest.approx(BAND[0] / (2 * w.max()) + 0.1)
    assert p.d_max_angstrom == pytest.approx(BAND[1] / (2 * w.min()) - 0.15)
    assert (p.d_min_angstrom, p.d_max_angstrom) == pytest.approx(
        snapred_d_range_angstrom(two_theta_rad=tt, wavelength_angstrom=WAVELENGTH))
    assert (p.common_d_min_angstrom, p.common_d_max_angstrom) == pytest.approx(
        d_range_angstrom(two_theta_rad=tt, wavelength_angstrom=WAVELENGTH))
    lo, hi = p.peak_d_range_angstrom
    assert lo == pytest.approx(max(p.d_min_angstrom, p.common_d_min_angstrom))
    assert hi == pytest.approx(min(p.d_max_angstrom, p.common_d_max_angstrom))


def test_group_zero_is_ignored_and_ids_keep_their_order(lite_geometry):
    rng = np.random.default_rng(5)
    groups = rng.choice(np.array([0, 3, 10, 42], np.int32), size=N_LITE_PIXELS)
    params = _params(lite_geometry, groups)
    assert [p.group_id for p in params] == [3, 10, 42]
    w = np.sin(0.5 * lite_geometry.two_theta_rad)
    for p in params:
        sel = groups == p.group_id
        assert p.n_pixels == sel.sum()
        assert p.two_theta_rad == pytest.approx((w * lite_geometry.two_theta_rad)[sel].sum() / w[sel].sum(), rel=1e-12)
        assert p.l2_m == pytest.approx((w * lite_geometry.l2_m)[sel].sum() / w[sel].sum(), rel=1e-12)


def test_masked_pixels_leave_every_parameter_and_a_fully_masked_group_is_left_out(lite_geometry):
    """Masking a pixel is the same as taking it out of the group, except for dd/d: Mantid averages
    the resolution terms over all of the group's members (masked ones count zero)."""
    grouping = builtin_grouping("Column", lite=True)
    mask = np.zeros(N_LITE_PIXELS, bool)
    mask[grouping.group_of_pixel == 2] = True  # a whole group
    mask[np.flatnonzero(grouping.group_of_pixel == 1)[::2]] = True  # half of another
    masked = {p.group_id: p for p in group_parameters(geometry=lite_geometry, grouping=grouping,
                                                       wavelength_angstrom=WAVELENGTH, mask=mask)}
    regrouped = grouping.group_of_pixel.copy()
    regrouped[mask] = 0
    removed = {p.group_id: p for p in _params(lite_geometry, regrouped)}
    assert sorted(masked) == sorted(removed) == [1, 3, 4, 5, 6]
    p, q = masked[1], removed[1]
    assert (p.n_pixels, p.n_masked) == (1536, 1536) and q.n_masked == 0
    for field in ("two_theta_rad", "l2_m", "d_min_angstrom", "d_max_angstrom", "common_d_min_angstrom",
                  "difc_us_per_angstrom"):
        assert getattr(p, field) == pytest.approx(getattr(q, field), rel=1e-12)
    sq = lambda x: x**2 - 0.002**2  # noqa: E731 - the pixel-dependent part of (dd/d)^2
    assert sq(p.delta_d_over_d) == pytest.approx(0.5 * sq(q.delta_d_over_d), rel=1e-9)
    assert masked[3] == removed[3]


def test_column_group_one_near_121_degrees_has_the_best_resolution(native_geometry):
    params = group_parameters(geometry=native_geometry, grouping=builtin_grouping("Column", lite=False),
                              wavelength_angstrom=WAVELENGTH)
    assert [p.group_id for p in params] == [1, 2, 3, 4, 5, 6] and all(p.n_pixels == 196608 for p in params)
    assert min(params, key=lambda p: p.delta_d_over_d).group_id == 1
    assert params[0].two_theta_deg == pytest.approx(120.9, abs=0.5)
    by_angle = sorted(params, key=lambda p: -p.two_theta_rad)
    assert [p.delta_d_over_d for p in by_angle] == sorted(p.delta_d_over_d for p in params)
    assert all(0.4 < p.d_min_angstrom < p.d_max_angstrom < 5.5 for p in params)


def test_lite_and_native_column_parameters_agree(lite_geometry, native_geometry):
    native = group_parameters(geometry=native_geometry, grouping=builtin_grouping("Column", lite=False),
                              wavelength_angstrom=WAVELENGTH)
    lite = group_parameters(geometry=lite_geometry, grouping=builtin_grouping("Column", lite=True),
                            wavelength_angstrom=WAVELENGTH)
    for n, li in zip(native, lite):
        assert li.n_pixels * 64 == n.n_pixels
        assert li.two_theta_deg == pytest.approx(n.two_theta_deg, abs=2e-3)
        assert li.difc_us_per_angstrom == pytest.approx(n.difc_us_per_angstrom, rel=2e-5)
        # Lite superpixels carry almost no solid angle (the Lite IDF's degenerate cuboid): a bit sharper
        assert 0.95 < li.delta_d_over_d / n.delta_d_over_d <= 1.0


def test_mismatched_or_empty_groupings_are_grouping_errors(lite_geometry):
    with pytest.raises(GroupingError, match="grouping 'Column' has 1179648 native pixels, the geometry 18432 Lite"):
        group_parameters(geometry=lite_geometry, grouping=builtin_grouping("Column", lite=False),
                         wavelength_angstrom=WAVELENGTH)
    with pytest.raises(GroupingError, match="grouping 'test' has no pixel in any group"):
        _params(lite_geometry, np.zeros(N_LITE_PIXELS, np.int32))
    with pytest.raises(GroupingError, match="negative group ids"):
        _params(lite_geometry, np.full(N_LITE_PIXELS, -2, np.int32))
