import h5py
import numpy as np
import pytest

from snapcal_core.errors import CorruptFileError
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal, write_diffcal


def test_round_trip_keeps_values_and_sorts_detid(tmp_path):
    rng = np.random.default_rng(1)
    n = 50
    detid = rng.permutation(n).astype(np.int32)
    table = DiffCalTable(detid=detid, difc=rng.uniform(3000, 7000, n), difa=rng.normal(0, 1, n),
                         tzero=rng.normal(0, 5, n), group=rng.integers(1, 7, n).astype(np.int32),
                         use=rng.integers(0, 2, n).astype(np.int32))
    back = read_diffcal(write_diffcal(tmp_path / "t.h5", table))
    order = np.argsort(detid)
    np.testing.assert_array_equal(back.detid, np.arange(n))
    for name in ("difc", "difa", "tzero", "group", "use"):
        np.testing.assert_array_equal(getattr(back, name), getattr(table, name)[order])
    assert back.instrument_name == "SNAP"


def test_layout_matches_mantid_reference(tmp_path, shared_reference):
    ref = shared_reference / "snap" / "SNAPFocGroup_Column.lite.hdf"
    ours = write_diffcal(tmp_path / "ours.h5", read_diffcal(ref))

    def describe(path):
        out = {}
        with h5py.File(path) as f:
            f.visititems(lambda name, obj: out.__setitem__(
                name, (type(obj).__name__, getattr(obj, "dtype", None) and obj.dtype.kind,
                       sorted(obj.attrs.keys()))))
        return out

    assert describe(ours) == describe(ref)


def test_not_a_diffcal_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f.create_dataset("x", data=[1])
    with pytest.raises(CorruptFileError, match="bad.h5"):
        read_diffcal(bad)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(CorruptFileError, match="junk.h5"):
        read_diffcal(tmp_path / "junk.h5")


def test_extra_columns_round_trip_with_their_dtype_and_follow_the_detid_sort(tmp_path):
    detid = np.array([3, 0, 2, 1], np.int32)
    flags = np.array([8, 1, 0, 2], np.uint8)
    eff = np.array([0.5, 1.25, 0.0, 2.0], np.float32)
    table = DiffCalTable.from_difc(np.arange(4.0) + 1, extra={"nuisance": flags, "efficiency": eff})
    table = DiffCalTable(detid=detid, difc=table.difc, difa=table.difa, tzero=table.tzero, group=table.group,
                         use=table.use, extra=table.extra)
    back = read_diffcal(write_diffcal(tmp_path / "t.h5", table))
    order = np.argsort(detid)
    assert set(back.extra) == {"nuisance", "efficiency"}
    assert back.extra["nuisance"].dtype == np.uint8 and back.extra["efficiency"].dtype == np.float32
    np.testing.assert_array_equal(back.extra["nuisance"], flags[order])
    np.testing.assert_array_equal(back.extra["efficiency"], eff[order])
    again = read_diffcal(write_diffcal(tmp_path / "t2.h5", back))
    np.testing.assert_array_equal(again.extra["nuisance"], back.extra["nuisance"])
