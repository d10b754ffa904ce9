import numpy as np
import pytest

from snapcal_core.errors import GroupingError
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping, load_grouping, read_grouping_file, write_grouping_file
from snapcal_core.instrument.parameters import group_parameters
from snapcal_core.instrument.types import Grouping
from snapcal_core.io.diffcal import read_diffcal


@pytest.mark.parametrize("name", ["Column", "Bank", "All"])
@pytest.mark.parametrize("lite", [False, True])
def test_builtin_groupings_equal_snap_reference_files(shared_reference, name, lite):
    ref = read_diffcal(shared_reference / "snap" / f"SNAPFocGroup_{name}{'.lite' if lite else ''}.hdf")
    grouping = builtin_grouping(name, lite=lite)
    assert np.array_equal(ref.detid, np.arange(grouping.n_pixels))
    assert np.array_equal(ref.group, grouping.group_of_pixel)
    assert np.array_equal(read_grouping_file(shared_reference / "snap" / f"SNAPFocGroup_{name}{'.lite' if lite else ''}.hdf").group_of_pixel, grouping.group_of_pixel)


def test_grouping_xml_reads_as_native_column(shared_reference):
    grouping = read_grouping_file(shared_reference / "snap" / "SNAPFocGroup_Column.xml")
    assert not grouping.lite
    assert np.array_equal(grouping.group_of_pixel, builtin_grouping("Column", lite=False).group_of_pixel)


def test_grouping_file_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    g = Grouping(name="custom", lite=True, group_of_pixel=rng.integers(0, 5, 18432).astype(np.int32))
    back = load_grouping(write_grouping_file(tmp_path / "custom.h5", g), lite=True)
    assert np.array_equal(back.group_of_pixel, g.group_of_pixel) and back.lite and back.name == "custom"


def test_grouping_errors_name_the_problem(tmp_path):
    with pytest.raises(GroupingError, match="unknown grouping 'Row'"):
        builtin_grouping("Row", lite=True)
    with pytest.raises(GroupingError, match="neither built in"):
        load_grouping(str(tmp_path / "nope.h5"), lite=True)
    bad = tmp_path / "bad.xml"
    bad.write_text("<detector-grouping><group ID='1'><detids>0-x</detids></group></detector-grouping>")
    with pytest.raises(GroupingError, match="malformed detector ids '0-x'"):
        read_grouping_file(bad)
    unclosed = tmp_path / "unclosed.xml"
    unclosed.write_text("<detector-grouping><group ID='1'>")
    with pytest.raises(GroupingError, match="malformed grouping XML"):
        read_grouping_file(unclosed)
    lite_file = write_grouping_file(tmp_path / "l.h5", builtin_grouping("Bank", lite=True))
    with pytest.raises(GroupingError, match="Lite grouping but native was asked"):
        read_grouping_file(lite_file, lite=False)
    small = write_grouping_file(tmp_path / "s.h5", Grouping(name="s", lite=True, group_of_pixel=np.ones(100, np.int32)))
    with pytest.raises(GroupingError, match="100 pixels fit neither"):
        read_grouping_file(small)


def test_group_parameters_of_one_pixel_groups_are_that_pixel():
    geometry = snap_geometry(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), lite=True)
    groups = np.zeros(18432, np.int32)
    groups[[10, 5000]] = [1, 2]
    params = group_parameters(geometry=geometry, grouping=Grouping("two", True, groups), wavelength_angstrom=2.1)
    assert [p.group_id for p in params] == [1, 2] and all(p.n_pixels == 1 for p in params)
    p = params[0]
    assert p.two_theta_rad == pytest.approx(geometry.two_theta_rad[10])
    assert p.difc_us_per_angstrom == pytest.approx(geometry.difc_us_per_angstrom[10])
    sin_t = np.sin(0.5 * geometry.two_theta_rad[10])
    assert p.d_min_angstrom == pytest.approx((2.1 - 1.5 + 0.05) / (2 * sin_t))
    assert p.d_max_angstrom == pytest.approx((2.1 + 1.5) / (2 * sin_t))


def test_column_group_one_has_the_best_resolution():
    params = group_parameters(geometry=snap_geometry(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), lite=True),
                              grouping=builtin_grouping("Column", lite=True), wavelength_angstrom=2.1)
    by_id = {p.group_id: p for p in params}
    assert min(params, key=lambda p: p.delta_d_over_d).group_id == 1
    assert by_id[1].two_theta_deg == pytest.approx(120.9, abs=0.5)
