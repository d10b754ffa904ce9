"""Pixel-mask files: the facility layouts built by hand (as Mantid/SNAPRed write them), round trips, errors."""

import dataclasses
import os
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

from snapcal_core.constants import N_LITE_PIXELS, N_NATIVE_PIXELS
from snapcal_core.errors import CorruptFileError, MaskFileError, MaskInstrumentError, MaskSizeError
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.io.mask import MaskFormat, PixelMask, read_mask_file, write_mask_file, write_mask_xml

LITE = dict(n_pixels=N_LITE_PIXELS, lite=True)
NATIVE = dict(n_pixels=N_NATIVE_PIXELS, lite=False)


def _random_mask(n, seed, fraction=0.05):
    return np.random.default_rng(seed).random(n) < fraction


def _fixed_string(text):
    """A string dataset as Mantid's H5Util::write makes it: fixed length with its NUL, shape (1,)."""
    return np.array([text.encode()], dtype=f"S{len(text) + 1}")


def _savediffcal(path, use, *, detid=None, name="SNAP", source="SNAP_Definition.xml", difc=None):
    """SaveDiffCal's layout; without ``difc`` as with only a MaskWorkspace (SNAPRed's writePixelMask)."""
    n = use.size
    detid = np.arange(n) if detid is None else detid
    with h5py.File(path, "w") as f:
        cal = f.create_group("calibration")
        cal.attrs["NX_class"] = "NXentry"  # variable-length string, as H5Util::writeStrAttribute
        kw = dict(chunks=(n,), compression="gzip", compression_opts=6)
        cal.create_dataset("difc", data=np.zeros(n) if difc is None else difc, **kw)
        if difc is not None:  # with a calibration table SaveDiffCal skips all-zero difa/tzero
            cal.create_dataset("difa", data=np.full(n, 0.1), **kw)
        cal.create_dataset("detid", data=np.asarray(detid, np.int32), **kw)
        cal.create_dataset("group", data=np.ones(n, np.int32), **kw)
        cal.create_dataset("use", data=np.asarray(use, np.int32), **kw)
        inst = cal.create_group("instrument")
        inst.attrs["NX_class"] = "NXinstrument"
        if name:
            inst.create_dataset("name", data=_fixed_string(name))
        inst.create_dataset("instrument_source", data=_fixed_string(source))
    return path


def _nx_entry(f, number, values, members, *, group="mask_workspace", name="SNAP"):
    """One SaveNexusProcessed entry: ``values`` (n_spectra, n_bins), ``members`` the detector ids of each spectrum."""
    entry = f.create_group(f"mantid_workspace_{number}")
    entry.attrs["NX_class"] = "NXentry"
    entry.create_dataset("workspace_name", data=_fixed_string(f"ws{number}"))
    data = entry.create_group(group)
    data.attrs["NX_class"] = "NXdata"
    n = values.shape[0]
    v = data.create_dataset("values", data=values)
    v.attrs.update(signal=np.int32(1), axes=np.bytes_("axis2,axis1"))
    data.create_dataset("errors", data=np.zeros_like(values))
    data.create_dataset("axis1", data=np.zeros(values.shape[1])).attrs["units"] = np.bytes_("TOF")
    data.create_dataset("axis2", data=np.arange(1, n + 1, dtype=np.float64)).attrs["units"] = np.bytes_("spectraNumber")
    inst = entry.create_group("instrument")
    inst.attrs["NX_class"] = "NXinstrument"
    inst.create_dataset("name", data=_fixed_string(name))
    if members is not None:
        det = inst.create_group("detector")
        det.attrs["NX_class"] = "NXdetector"
        count = np.array([m.size for m in members], np.int32)
        det.create_dataset("detector_index", data=(np.cumsum(count) - count).astype(np.int32))
        det.create_dataset("detector_count", data=count)
        det.create_dataset("detector_list", data=np.concatenate(members).astype(np.int32))
        det.create_dataset("spectra", data=np.arange(1, n + 1, dtype=np.int32))
    return entry


def _savenexus_mask(path, masked_ids, *, n=N_LITE_PIXELS, seed=0, monitors=False, name="SNAP"):
    """A MaskWorkspace saved by SaveNexusProcessed, its spectra in shuffled detector order."""
    ids = np.random.default_rng(seed).permutation(n)
    values = np.isin(ids, masked_ids).astype(np.float64)[:, None]
    members = [np.array([i]) for i in ids]
    if monitors:
        members += [np.array([-1]), np.array([-2])]
        values = np.vstack([values, [[1.0], [0.0]]])
    with h5py.File(path, "w") as f:
        _nx_entry(f, 1, values, members, name=name)
    return path


SAVEMASK_XML = '<?xml version="1.0"?>\n<detector-masking>\n\t<group>\n\t\t<detids>{}</detids>\n\t</group>\n' \
               '</detector-masking>\n'


def _xml(path, body):
    path.write_text(body)
    return path


# --- the facility layouts -------------------------------------------------------------------------------
def test_snapred_pixelmask_file_reads_as_saved(tmp_path):
    masked = _random_mask(N_LITE_PIXELS, 1)
    path = _savediffcal(tmp_path / "pixelmask_057514_2025-01-01T120000.h5", (~masked).astype(int),
                        name="SNAPLite", source="SNAPLite_Definition.xml")
    mask = read_mask_file(path, **LITE)
    np.testing.assert_array_equal(mask.masked, masked)
    assert (mask.lite, mask.file_format, mask.source, mask.n_masked) == (True, MaskFormat.DIFFCAL, str(path),
                                                                          masked.sum())


def test_calibration_table_with_mask_reads_its_use_column_in_any_row_order(tmp_path):
    masked = _random_mask(N_LITE_PIXELS, 2)
    order = np.random.default_rng(3).permutation(N_LITE_PIXELS)
    path = _savediffcal(tmp_path / "diffract_consts_057514_v0001.h5", (~masked[order]).astype(int), detid=order,
                        difc=np.full(N_LITE_PIXELS, 5000.0))
    np.testing.assert_array_equal(read_mask_file(path, **LITE).masked, masked)


def test_saved_mask_workspace_maps_spectra_to_detectors_and_ignores_monitors(tmp_path):
    masked_ids = np.array([0, 5, 6, 7, 18431])
    mask = read_mask_file(_savenexus_mask(tmp_path / "m.nxs", masked_ids, monitors=True), **LITE)
    assert mask.file_format is MaskFormat.NXPROCESSED
    np.testing.assert_array_equal(np.flatnonzero(mask.masked), masked_ids)


def test_mask_entry_is_found_among_reduction_output_entries(tmp_path):
    path = tmp_path / "reduced_057514.nxs"
    with h5py.File(path, "w") as f:
        _nx_entry(f, 1, np.ones((6, 100)), [np.arange(k * 3072, (k + 1) * 3072) for k in range(6)], group="workspace")
        values = np.zeros((N_LITE_PIXELS, 1))
        values[[10, 11]] = 1
        _nx_entry(f, 2, values, [np.array([i]) for i in range(N_LITE_PIXELS)])
    np.testing.assert_array_equal(np.flatnonzero(read_mask_file(path, **LITE).masked), [10, 11])


def test_mask_workspace_without_detector_map_takes_spectrum_i_as_detector_i(tmp_path):
    values = np.zeros((N_LITE_PIXELS, 1))
    values[42] = 1
    with h5py.File(tmp_path / "m.nxs", "w") as f:
        _nx_entry(f, 1, values, None)
    np.testing.assert_array_equal(np.flatnonzero(read_mask_file(tmp_path / "m.nxs", **LITE).masked), [42])


def test_older_mask_saved_as_single_value_workspace2d_reads(tmp_path):
    values = np.zeros((N_LITE_PIXELS, 1))
    values[7] = 1
    with h5py.File(tmp_path / "m.nxs", "w") as f:
        _nx_entry(f, 1, values, [np.array([i]) for i in range(N_LITE_PIXELS)], group="workspace")
    np.testing.assert_array_equal(np.flatnonzero(read_mask_file(tmp_path / "m.nxs", **LITE).masked), [7])


def test_savemask_xml_reads_ranges_and_singles(tmp_path):
    path = _xml(tmp_path / "mask.xml", SAVEMASK_XML.format("1-5,9, 12-13,\n 20"))
    mask = read_mask_file(path, **LITE)
    assert mask.file_format is MaskFormat.XML
    np.testing.assert_array_equal(np.flatnonzero(mask.masked), [1, 2, 3, 4, 5, 9, 12, 13, 20])


def test_xml_components_and_several_groups(tmp_path):
    body = ('<detector-masking><group><component>bank11</component><detids>5000</detids></group>'
            '<group><component val="bank12"/></group></detector-masking>')
    mask = read_mask_file(_xml(tmp_path / "m.xml", body), **LITE)
    np.testing.assert_array_equal(np.flatnonzero(mask.masked), np.r_[0:2048, 5000])


def test_empty_savemask_xml_masks_nothing(tmp_path):
    assert read_mask_file(_xml(tmp_path / "m.xml", SAVEMASK_XML.format("")), **NATIVE).n_masked == 0


def test_format_is_told_from_content_not_extension(tmp_path):
    xml_as_h5 = _xml(tmp_path / "mask.h5", SAVEMASK_XML.format("3"))
    h5_as_xml = _savediffcal(tmp_path / "mask.xml", np.r_[0, np.ones(N_LITE_PIXELS - 1, int)])
    assert read_mask_file(xml_as_h5, **LITE).file_format is MaskFormat.XML
    assert read_mask_file(h5_as_xml, **LITE).file_format is MaskFormat.DIFFCAL


@pytest.mark.parametrize("name", ["SNAP", "SNAPLite", "SNAPLite.xml", "/opt/mantid/instrument/SNAPLite_Definition.xml",
                                  ""])
def test_lite_files_may_name_snap_or_snaplite(tmp_path, name):
    # SNAPLite_Definition.xml's own name is SNAP; SNAPRed's Lite grouping files say SNAPLite.xml
    path = _savediffcal(tmp_path / "m.h5", np.ones(N_LITE_PIXELS, int), name=name)
    assert read_mask_file(path, **LITE).n_masked == 0


def test_real_lite_grouping_file_reads_as_mask_of_nothing(shared_reference):
    path = shared_reference / "snap" / "SNAPFocGroup_Column.lite.hdf"
    assert read_mask_file(path, **LITE).n_masked == 0


# --- a whole group masked is read fine -------------------------------------------------------------------
def test_mask_of_a_whole_group_reads(tmp_path):
    column = builtin_grouping("Column", lite=True).group_of_pixel
    by_component = read_mask_file(_xml(tmp_path / "m.xml", '<detector-masking><group><component>Column1'
                                                           '</component></group></detector-masking>'), **LITE)
    np.testing.assert_array_equal(by_component.masked, column == 1)
    by_table = read_mask_file(_savediffcal(tmp_path / "m.h5", (column != 2).astype(int)), **LITE)
    np.testing.assert_array_equal(by_table.masked, column == 2)


# --- round trips ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lite", [True, False])
def test_write_mask_file_round_trips(tmp_path, lite):
    n = N_LITE_PIXELS if lite else N_NATIVE_PIXELS
    mask = PixelMask(_random_mask(n, 4), lite=lite)
    back = read_mask_file(write_mask_file(tmp_path / "pixelmask.h5", mask, lite=lite), n_pixels=n, lite=lite)
    np.testing.assert_array_equal(back.masked, mask.masked)
    assert os.listdir(tmp_path) == ["pixelmask.h5"]  # no temporary file left behind


def test_write_mask_file_has_savediffcal_mask_layout(tmp_path):
    mask = PixelMask(_random_mask(N_LITE_PIXELS, 5), lite=True)
    ours = write_mask_file(tmp_path / "ours.h5", mask, lite=True)
    theirs = _savediffcal(tmp_path / "theirs.h5", (~mask.masked).astype(int))
    with h5py.File(ours) as a, h5py.File(theirs) as b:
        assert set(b["calibration"]) <= set(a["calibration"])
        for name in ("detid", "group", "use", "difc"):
            assert a["calibration"][name].dtype == b["calibration"][name].dtype
            np.testing.assert_array_equal(a["calibration"][name][()], b["calibration"][name][()])
        assert a["calibration/instrument/name"][0] == b"SNAPLite"


def test_write_mask_xml_is_savemask_with_compact_ranges(tmp_path):
    masked = np.zeros(N_LITE_PIXELS, bool)
    masked[[1, 2, 3, 4, 5, 9, 12, 13]] = True
    path = write_mask_xml(tmp_path / "m.xml", PixelMask(masked, lite=True), lite=True)
    root = ET.parse(path).getroot()
    assert (root.tag, root.attrib) == ("detector-masking", {"instrument": "SNAPLite"})
    assert [(g.tag, [(c.tag, c.text) for c in g]) for g in root] == [("group", [("detids", "1-5,9,12-13")])]
    np.testing.assert_array_equal(read_mask_file(path, **LITE).masked, masked)


@pytest.mark.parametrize("seed", range(5))
def test_write_mask_xml_round_trips_random_masks(tmp_path, seed):
    mask = PixelMask(_random_mask(N_LITE_PIXELS, seed, fraction=[0.0, 0.01, 0.5, 0.99, 1.0][seed]), lite=True)
    back = read_mask_file(write_mask_xml(tmp_path / "m.xml", mask, lite=True), **LITE)
    np.testing.assert_array_equal(back.masked, mask.masked)


def test_writers_refuse_a_mask_of_the_other_mode(tmp_path):
    mask = PixelMask(np.zeros(N_LITE_PIXELS, bool), lite=True)
    with pytest.raises(ValueError, match="Lite mask"):
        write_mask_file(tmp_path / "m.h5", mask, lite=False)
    with pytest.raises(ValueError, match="Lite mask"):
        write_mask_xml(tmp_path / "m.xml", mask, lite=False)


def test_pixel_mask_is_frozen_and_read_only():
    mask = PixelMask(np.zeros(10, bool), lite=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mask.lite = False
    with pytest.raises(ValueError):
        mask.masked[0] = True


# --- wrong size, ids outside the mode -----------------------------------------------------------------------
def test_table_of_the_wrong_size_is_a_size_error(tmp_path):
    path = _savediffcal(tmp_path / "m.h5", np.ones(100, int))
    with pytest.raises(MaskSizeError, match=r"m\.h5.*100 rows; Lite SNAP has 18,432"):
        read_mask_file(path, **LITE)


def test_lite_table_given_for_native_pixels_is_a_size_error(tmp_path):
    path = _savediffcal(tmp_path / "lite.h5", np.ones(N_LITE_PIXELS, int))
    with pytest.raises(MaskSizeError, match=r"lite\.h5.*a Lite mask given for native pixels"):
        read_mask_file(path, **NATIVE)


def test_native_table_given_for_lite_pixels_is_a_size_error(tmp_path):
    path = _savediffcal(tmp_path / "native.h5", np.ones(N_NATIVE_PIXELS, int))
    with pytest.raises(MaskSizeError, match=r"native\.h5.*a native mask given for Lite pixels"):
        read_mask_file(path, **LITE)


def test_table_with_ids_outside_the_mode_is_a_size_error(tmp_path):
    detid = np.arange(N_LITE_PIXELS)
    detid[-1] = 70000
    path = _savediffcal(tmp_path / "m.h5", np.ones(N_LITE_PIXELS, int), detid=detid)
    with pytest.raises(MaskSizeError, match=r"m\.h5.*outside 0\.\.18431.*70000"):
        read_mask_file(path, **LITE)


def test_native_ids_in_a_lite_xml_mask_is_a_size_error(tmp_path):
    path = _xml(tmp_path / "m.xml", SAVEMASK_XML.format("10,196608-196700"))
    with pytest.raises(MaskSizeError, match=r"m\.xml.*93 detector ids outside 0\.\.18431.*native ids in a Lite mask"):
        read_mask_file(path, **LITE)


def test_lite_mask_workspace_given_for_native_pixels_is_a_size_error(tmp_path):
    path = _savenexus_mask(tmp_path / "m.nxs", [1])
    with pytest.raises(MaskSizeError, match=r"m\.nxs.*maps 18,432 detectors; native SNAP has 1,179,648"):
        read_mask_file(path, **NATIVE)


def test_mask_workspace_with_ids_outside_the_mode_is_a_size_error(tmp_path):
    path = _savenexus_mask(tmp_path / "m.nxs", [1], n=N_LITE_PIXELS + 10)
    with pytest.raises(MaskSizeError, match=r"m\.nxs.*10 detector ids outside"):
        read_mask_file(path, **LITE)


# --- wrong instrument ---------------------------------------------------------------------------------------
def test_table_of_another_instrument_is_an_instrument_error(tmp_path):
    path = _savediffcal(tmp_path / "m.h5", np.ones(N_LITE_PIXELS, int), name="POWGEN")
    with pytest.raises(MaskInstrumentError, match=r"m\.h5.*'POWGEN', not SNAP"):
        read_mask_file(path, **LITE)


def test_snaplite_file_given_for_native_pixels_is_an_instrument_error(tmp_path):
    path = _savediffcal(tmp_path / "m.h5", np.ones(N_NATIVE_PIXELS, int), name="SNAPLite")
    with pytest.raises(MaskInstrumentError, match=r"m\.h5.*a Lite mask, but native pixels"):
        read_mask_file(path, **NATIVE)


def test_mask_workspace_of_another_instrument_is_an_instrument_error(tmp_path):
    path = _savenexus_mask(tmp_path / "m.nxs", [1], name="WISH")
    with pytest.raises(MaskInstrumentError, match=r"m\.nxs.*'WISH', not SNAP"):
        read_mask_file(path, **LITE)


@pytest.mark.parametrize("instrument, opts", [("POWGEN", LITE), ("SNAPLite", NATIVE)])
def test_xml_naming_another_instrument_or_mode_is_an_instrument_error(tmp_path, instrument, opts):
    path = _xml(tmp_path / "m.xml", f'<detector-masking instrument="{instrument}"><group><detids>1</detids>'
                                    '</group></detector-masking>')
    with pytest.raises(MaskInstrumentError, match=r"m\.xml"):
        read_mask_file(path, **opts)


# --- unreadable, corrupt, not a mask --------------------------------------------------------------------------
def test_missing_file_is_a_mask_file_error(tmp_path):
    with pytest.raises(MaskFileError, match="does not exist"):
        read_mask_file(tmp_path / "nope.h5", **LITE)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 10, b"detids 1-5\n"])
def test_neither_hdf5_nor_xml_is_a_mask_file_error(tmp_path, content):
    (tmp_path / "m.h5").write_bytes(content)
    with pytest.raises(MaskFileError, match=r"m\.h5 is neither HDF5"):
        read_mask_file(tmp_path / "m.h5", **LITE)


def test_truncated_hdf5_is_a_mask_file_error(tmp_path):
    path = write_mask_file(tmp_path / "m.h5", PixelMask(np.zeros(N_LITE_PIXELS, bool), lite=True), lite=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(MaskFileError, match=r"m\.h5 is unreadable"):
        read_mask_file(path, **LITE)


def test_hdf5_of_no_mask_layout_is_a_mask_file_error(tmp_path):
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.create_dataset("entry/data", data=[1, 2])
    with pytest.raises(MaskFileError, match=r"m\.h5: HDF5 with neither /calibration"):
        read_mask_file(tmp_path / "m.h5", **LITE)


def test_table_with_duplicate_ids_is_a_mask_file_error(tmp_path):
    detid = np.arange(N_LITE_PIXELS)
    detid[1] = 0
    with pytest.raises(MaskFileError, match="more than once"):
        read_mask_file(_savediffcal(tmp_path / "m.h5", np.ones(N_LITE_PIXELS, int), detid=detid), **LITE)


def test_focused_workspace_is_not_a_mask(shared_reference):
    path = shared_reference / "focused" / "SNAP_57514_Si_lite_Column_focused.nxs"
    with pytest.raises(MaskFileError, match=r"focused\.nxs.*shape \(6, 2003\).*one value"):
        read_mask_file(path, **LITE)


def test_two_mask_entries_are_ambiguous(tmp_path):
    path = tmp_path / "m.nxs"
    with h5py.File(path, "w") as f:
        for k in (1, 2):
            _nx_entry(f, k, np.zeros((N_LITE_PIXELS, 1)), [np.array([i]) for i in range(N_LITE_PIXELS)])
    with pytest.raises(MaskFileError, match="2 MaskWorkspace entries"):
        read_mask_file(path, **LITE)


def test_inconsistent_detector_map_is_a_mask_file_error(tmp_path):
    path = _savenexus_mask(tmp_path / "m.nxs", [1])
    with h5py.File(path, "a") as f:
        f["mantid_workspace_1/instrument/detector/detector_index"][-1] = N_LITE_PIXELS + 5
    with pytest.raises(MaskFileError, match="do not describe 18,432 spectra"):
        read_mask_file(path, **LITE)


def test_malformed_xml_is_a_mask_file_error(tmp_path):
    with pytest.raises(MaskFileError, match=r"m\.xml: malformed XML"):
        read_mask_file(_xml(tmp_path / "m.xml", "<detector-masking><group><detids>1-5</group>"), **LITE)


@pytest.mark.parametrize("body, match", [
    ("<detector-masking><group><detids>5-3</detids></group></detector-masking>", "malformed detector ids '5-3'"),
    ("<detector-masking><group><detids>1,x</detids></group></detector-masking>", "malformed detector ids 'x'"),
    ("<detector-masking><group><component>bank99</component></group></detector-masking>", "unknown SNAP component"),
    ("<detector-masking><group><ids>1-5</ids></group></detector-masking>", "<ids> .spectrum numbers. is not read"),
    ("<detector-masking><group><detid>1</detid></group></detector-masking>", "<detid> is not a LoadMask element"),
    ("<detector-masking><detids>1</detids></detector-masking>", "<detids> outside a <group>"),
])
def test_xml_that_loadmask_would_misread_is_a_mask_file_error(tmp_path, body, match):
    with pytest.raises(MaskFileError, match=match):
        read_mask_file(_xml(tmp_path / "m.xml", body), **LITE)


def test_grouping_xml_given_as_a_mask_is_a_mask_file_error(shared_reference):
    with pytest.raises(MaskFileError, match=r"SNAPFocGroup_Column\.xml.*a grouping file, not a mask"):
        read_mask_file(shared_reference / "snap" / "SNAPFocGroup_Column.xml", **NATIVE)


def test_every_mask_error_is_a_corrupt_file_error(tmp_path):
    # the command line reports them as every other file error
    assert issubclass(MaskSizeError, MaskFileError) and issubclass(MaskInstrumentError, MaskFileError)
    assert issubclass(MaskFileError, CorruptFileError)
