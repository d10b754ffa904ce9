"""Built-in groupings equal SNAP's grouping files; Mantid grouping files read and fail clearly."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from snapcal_core.constants import N_LITE_PIXELS, N_NATIVE_PIXELS
from snapcal_core.errors import GroupingError
from snapcal_core.instrument.groupings import builtin_grouping, load_grouping, read_grouping_file, write_grouping_file
from snapcal_core.instrument.types import Grouping
from snapcal_core.io.detector_xml import COMPONENT_PANELS
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal, write_diffcal

NS = {"m": "http://www.mantidproject.org/IDF/1.0"}


def _xml(tmp_path, body: str, *, instrument: str | None = "SNAP", name: str = "g.xml"):
    attr = f' instrument="{instrument}"' if instrument else ""
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0"?>\n<detector-grouping{attr}>{body}</detector-grouping>\n')
    return path


@pytest.mark.parametrize("name", ["Column", "Bank", "All"])
@pytest.mark.parametrize("lite", [False, True])
def test_builtin_groupings_equal_snap_reference_files(shared_reference, name, lite):
    path = shared_reference / "snap" / f"SNAPFocGroup_{name}{'.lite' if lite else ''}.hdf"
    ref = read_diffcal(path)
    grouping = builtin_grouping(name, lite=lite)
    assert grouping.n_pixels == (N_LITE_PIXELS if lite else N_NATIVE_PIXELS) and grouping.lite == lite
    assert np.array_equal(ref.detid, np.arange(grouping.n_pixels))
    assert np.array_equal(ref.group, grouping.group_of_pixel)
    from_file = read_grouping_file(path)  # mode inferred from the size
    assert from_file.lite == lite and np.array_equal(from_file.group_of_pixel, grouping.group_of_pixel)


def test_grouping_xml_reads_as_native_column(shared_reference):
    grouping = read_grouping_file(shared_reference / "snap" / "SNAPFocGroup_Column.xml")
    assert not grouping.lite
    assert np.array_equal(grouping.group_of_pixel, builtin_grouping("Column", lite=False).group_of_pixel)


def test_component_names_are_the_idf_panels(shared_reference):
    """bank<c><r> -> panel idstart / 65536, and Column<c> types hold the banks the IDF gives them."""
    root = ET.parse(shared_reference / "snap" / "SNAP_Definition.xml").getroot()
    for column in root.findall("m:type", NS):
        if not column.attrib["name"].startswith("Column"):
            continue
        panels = []
        for comp in column.findall("m:component", NS):
            bank = comp.find("m:location", NS).attrib["name"]
            panel = int(comp.attrib["idstart"]) // 65536
            assert COMPONENT_PANELS[bank] == (panel,)
            panels.append(panel)
        assert sorted(panels) == sorted(COMPONENT_PANELS[column.attrib["name"]])


def test_column_grouping_by_components_equals_builtin(tmp_path):
    body = "".join(f'<group ID="{c}"><component val="Column{c}"/></group>' for c in range(1, 7))
    for lite, instrument in ((False, "SNAP"), (True, "SNAPLite")):
        grouping = read_grouping_file(_xml(tmp_path, body, instrument=instrument))
        assert grouping.lite == lite
        assert np.array_equal(grouping.group_of_pixel, builtin_grouping("Column", lite=lite).group_of_pixel)


def test_xml_comma_lists_ranges_val_attributes_and_default_ids(tmp_path):
    path = _xml(tmp_path, '<group ID="7"><detids>0-2, 5,\n 1023</detids></group>'
                          '<group><detids val="10-11"/><component>bank12</component></group>', instrument="SNAPLite")
    grouping = read_grouping_file(path)
    expected = np.zeros(N_LITE_PIXELS, np.int32)
    expected[[0, 1, 2, 5, 1023]] = 7
    expected[[10, 11]] = 2  # second <group>, no ID: its position
    expected[1024:2048] = 2  # bank12 is Lite panel 1
    assert grouping.lite and np.array_equal(grouping.group_of_pixel, expected)


def test_xml_without_instrument_takes_the_mode_asked_or_from_its_ids(tmp_path):
    small = _xml(tmp_path, '<group ID="1"><detids>0-99</detids></group>', instrument=None)
    assert read_grouping_file(small).lite
    assert not read_grouping_file(small, lite=False).lite
    large = _xml(tmp_path, '<group ID="1"><detids>0-99,20000</detids></group>', instrument=None, name="l.xml")
    assert not read_grouping_file(large).lite


def test_load_grouping_accepts_names_in_any_case_and_paths(tmp_path):
    for spec in ("column", "BANK", "All"):
        assert load_grouping(spec, lite=True).name.lower() == spec.lower()
    path = write_grouping_file(tmp_path / "bank.h5", builtin_grouping("Bank", lite=False))
    for spec in (path, str(path)):
        assert np.array_equal(load_grouping(spec, lite=False).group_of_pixel,
                              builtin_grouping("Bank", lite=False).group_of_pixel)


def test_file_grouping_name_finds_the_file_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_grouping_file("mine.h5", builtin_grouping("Column", lite=True))
    grouping = load_grouping("mine.h5", lite=True)
    assert grouping.name == str((tmp_path / "mine.h5").resolve())
    assert np.array_equal(load_grouping(grouping.name, lite=True).group_of_pixel, grouping.group_of_pixel)


@pytest.mark.parametrize("lite", [False, True])
def test_grouping_file_round_trip_in_mantid_layout(tmp_path, lite):
    rng = np.random.default_rng(2)
    n = N_LITE_PIXELS if lite else N_NATIVE_PIXELS
    g = Grouping(name="custom", lite=lite, group_of_pixel=rng.integers(0, 5, n).astype(np.int32))
    path = write_grouping_file(tmp_path / "custom.h5", g)
    table = read_diffcal(path)
    assert np.array_equal(table.detid, np.arange(n)) and table.detid.dtype == np.int32
    assert not table.difc.any() and not table.difa.any() and not table.tzero.any() and np.all(table.use == 1)
    assert table.instrument_name == ("SNAPLite" if lite else "SNAP")
    back = load_grouping(path, lite=lite)
    assert np.array_equal(back.group_of_pixel, g.group_of_pixel) and back.lite == lite


def _raises(text: str, func, *args, path=None, **kw) -> None:
    """``func(...)`` raises a GroupingError containing ``text`` (and naming ``path`` when given)."""
    with pytest.raises(GroupingError, match=re.escape(text)) as info:
        func(*args, **kw)
    if path is not None:
        assert str(path) in str(info.value), f"message does not name {path}: {info.value}"


def test_unknown_names_and_missing_files_are_grouping_errors(tmp_path):
    _raises("unknown grouping 'Row'", builtin_grouping, "Row", lite=True)
    _raises("neither built in", load_grouping, str(tmp_path / "nope.h5"), lite=True, path=tmp_path / "nope.h5")
    _raises("does not exist", read_grouping_file, tmp_path / "nope.xml", path=tmp_path / "nope.xml")


@pytest.mark.parametrize(
    "body,instrument,match",
    [
        ("<group ID='1'><detids>0-x</detids></group>", "SNAP", "malformed detector ids '0-x'"),
        ("<group ID='1'><detids>9-3</detids></group>", "SNAP", "malformed detector ids '9-3'"),
        ("<group ID='1'>", "SNAP", "malformed grouping XML"),
        ("<group ID='1'><detids>1179648</detids></group>", "SNAP", "detector id 1179648 outside 0..1179647"),
        ("<group ID='1'><detids>18432</detids></group>", "SNAPLite", "detector id 18432 outside 0..18431"),
        ("<group ID='1'><detids>4</detids></group><group ID='2'><detids>1-4</detids></group>", "SNAP",
         "detector id 4 is listed more than once"),
        ("<group ID='a'><detids>4</detids></group>", "SNAP", "group ID 'a' is not an integer"),
        ("<group ID='0'><detids>4</detids></group>", "SNAP", "group ID 0 must be positive"),
        ("<group ID='1'><component val='bank71'/></group>", "SNAP", "unknown SNAP component 'bank71'"),
        ("<group ID='1'><ids>4</ids></group>", "SNAP", "<ids> is not supported"),
        ("<group ID='1'><detids>4</detids></group>", "POWGEN", "instrument 'POWGEN', not SNAP"),
        ("", "SNAP", "no <group>"),
        ("<group ID='1'><component val='bank11'/></group>", None, "cannot tell native from Lite"),
    ],
)
def test_malformed_xml_groupings_name_the_file_and_the_fault(tmp_path, body, instrument, match):
    path = _xml(tmp_path, body, instrument=instrument)
    _raises(match, read_grouping_file, path, path=path)


def test_wrong_root_element_is_not_a_grouping(tmp_path):
    path = tmp_path / "idf.xml"
    path.write_text("<instrument name='SNAP'/>")
    _raises("not a Mantid grouping file", read_grouping_file, path, path=path)


def test_lite_native_mismatch_and_odd_sizes_are_grouping_errors(tmp_path):
    lite_h5 = write_grouping_file(tmp_path / "l.h5", builtin_grouping("Bank", lite=True))
    _raises("Lite grouping but native was asked", read_grouping_file, lite_h5, lite=False, path=lite_h5)
    _raises("Lite grouping but native was asked", load_grouping, lite_h5, lite=False, path=lite_h5)
    native_h5 = write_grouping_file(tmp_path / "n.h5", builtin_grouping("Bank", lite=False))
    _raises("native grouping but Lite was asked", read_grouping_file, native_h5, lite=True, path=native_h5)
    lite_xml = _xml(tmp_path, "<group ID='1'><detids>0-5</detids></group>", instrument="SNAPLite")
    _raises("Lite grouping but native was asked", read_grouping_file, lite_xml, lite=False, path=lite_xml)
    small = write_diffcal(tmp_path / "s.h5", DiffCalTable.from_difc(np.zeros(100), group=np.ones(100)))
    _raises("100 pixels fit neither native (1179648) nor Lite (18432)", read_grouping_file, small, path=small)
    _raises("has 100 pixels", write_grouping_file, tmp_path / "x.h5",
            Grouping(name="s", lite=True, group_of_pixel=np.ones(100, np.int32)))
    assert not (tmp_path / "x.h5").exists()


def test_unreadable_or_empty_hdf5_groupings_are_grouping_errors(tmp_path):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file" * 10)
    _raises("unreadable", read_grouping_file, garbage, path=garbage)
    empty = write_grouping_file(tmp_path / "e.h5", Grouping("e", True, np.zeros(N_LITE_PIXELS, np.int32)))
    _raises("every pixel is in group 0", read_grouping_file, empty, path=empty)
    negative = write_grouping_file(tmp_path / "n.h5", Grouping("n", True, np.full(N_LITE_PIXELS, -1, np.int32)))
    _raises("negative group id -1", read_grouping_file, negative, path=negative)
