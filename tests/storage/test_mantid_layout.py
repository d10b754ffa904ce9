"""Stored tables have Mantid's diffcal layout (as the real SNAP file) and index entries SNAPRed's names."""

import json

import h5py
import numpy as np

from snapcal_core.io.diffcal import read_diffcal
from snapcal_core.storage.paths import diffraction_dir, version_dir
from snapcal_core.storage.store import save_calibration
from tests.storage._helpers import SID, SNAPRED_INDEX_FIELDS, assert_tables_equal, request, small_table


def _layout(path, *, with_shapes: bool) -> dict:
    """Every group and dataset: kind, dtype (string datasets: kind and shape only), attributes with values."""
    out = {}

    def visit(name, obj):
        attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in obj.attrs.items()}
        if isinstance(obj, h5py.Group):
            out[name] = ("group", attrs)
            return
        dtype = obj.dtype.kind if obj.dtype.kind == "S" else obj.dtype.str
        shape = obj.shape if (with_shapes or obj.dtype.kind == "S") else len(obj.shape)
        out[name] = ("dataset", dtype, shape, attrs)

    with h5py.File(path, "r") as f:
        visit("/", f)
        f.visititems(visit)
    return out


def test_default_lite_table_has_exactly_the_layout_of_the_real_snap_file(home, shared_reference):
    ours = version_dir(home, SID, lite=True, version=0) / "diffract_consts_000000_v0000.h5"
    reference = shared_reference / "snap" / "SNAPFocGroup_Column.lite.hdf"
    assert _layout(ours, with_shapes=True) == _layout(reference, with_shapes=True)
    with h5py.File(ours) as f, h5py.File(reference) as g:
        np.testing.assert_array_equal(f["calibration/detid"][()], g["calibration/detid"][()])
        assert f["calibration/instrument/name"].dtype.kind == "S"  # fixed-length bytes, as Mantid writes


def test_a_saved_table_round_trips_with_the_reference_names_dtypes_and_attributes(home, shared_reference):
    table = small_table(10)
    save_calibration(home, request(), table)
    ours = version_dir(home, SID, lite=True, version=1) / "diffract_consts_058810_v0001.h5"
    reference = shared_reference / "snap" / "SNAPFocGroup_Column.lite.hdf"
    assert _layout(ours, with_shapes=False) == _layout(reference, with_shapes=False)
    back = read_diffcal(ours)
    assert_tables_equal(back, table)
    assert back.instrument_name == "SNAP"


def test_index_entries_use_snapred_field_names_exactly(home):
    save_calibration(home, request(), small_table(11))
    for lite in (True, False):
        entries = json.loads((diffraction_dir(home, SID, lite=lite) / "CalibrationIndex.json").read_text())
        assert entries and all(set(e) == SNAPRED_INDEX_FIELDS for e in entries)
        assert all(isinstance(e["runNumber"], str) and isinstance(e["timestamp"], float) for e in entries)
        assert all(e["useLiteMode"] is lite for e in entries)
