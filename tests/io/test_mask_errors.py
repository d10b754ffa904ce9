"""Pixel-mask files that are wrong: size, mode, instrument, corrupt or not a mask (each a typed error)."""



import h5py
import numpy as np
import pytest

from snapcal_core.constants import N_LITE_PIXELS, N_NATIVE_PIXELS
from snapcal_core.errors import CorruptFileError, MaskFileError, MaskInstrumentError, MaskSizeError
from snapcal_core.io.mask import PixelMask, read_mask_file, write_mask_file
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
