"""Pixel-mask files: the facility layouts built by hand (as Mantid/SNAPRed write them), round trips.

The error cases are tests/io/test_mask_errors.py."""


import dataclasses
import os
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

from snapcal_core.constants import N_LITE_PIXELS, N_NATIVE_PIXELS
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.io.mask import MaskFormat, PixelMask, read_mask_file, write_mask_file, write_mask_xml
from tests.io.mask_layouts import (  # noqa: F401
    LITE,
    NATIVE,
    SAVEMASK_XML,
    _fixed_string,
    _nx_entry,
    _random_mask,
    _savediffcal,
    _savenexus_mask,
    _xml,
)


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
