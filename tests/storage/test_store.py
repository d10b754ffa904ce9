import json

import h5py
import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from snapcal_core.errors import StorageError
from snapcal_core.io.diffcal import read_diffcal
from snapcal_core.storage.applies_to import applies, normalise
from snapcal_core.storage.index import CorruptIndexError
from snapcal_core.storage.paths import diffraction_dir, state_root, version_dir
from snapcal_core.storage.reconcile import reconcile
from snapcal_core.storage.store import (
    applicable_version,
    init_state,
    list_versions,
    load_version,
    save_calibration,
)
from tests.storage.conftest import SID, STATE, request, small_table

SNAPRED_INDEX_FIELDS = {"runNumber", "useLiteMode", "version", "appliesTo", "comments", "author", "timestamp"}


def test_init_state_writes_v0_for_both_modes_and_is_idempotent(home):
    init_state(home, STATE)
    for lite in (True, False):
        loaded = load_version(home, SID, lite=lite, version=0)
        assert loaded.table.n_rows == (18432 if lite else 1_179_648)
        assert loaded.record.indexEntry.appliesTo == ">=0"
    grouping_map = json.loads((state_root(home, SID) / "groupingMap.json").read_text())
    assert [g["name"] for g in grouping_map["liteFocusGroups"]] == ["Column", "Bank", "All"]
    before = {p: p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file()}
    init_state(home, STATE)
    assert {p: p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file() and p in before} == before


def test_save_writes_snapred_layout_and_index(home):
    table = small_table(1)
    saved = save_calibration(home, request(comments="first"), table)
    assert saved.version == 1 and saved.path.endswith("lite/diffraction/v_0001")
    folder = version_dir(home, SID, lite=True, version=1)
    names = {p.name for p in folder.iterdir()}
    assert {"CalibrationRecord.json", "CalibrationParameters.json", "diffract_consts_058810_v0001.h5"} <= names
    index = json.loads((diffraction_dir(home, SID, lite=True) / "CalibrationIndex.json").read_text())
    assert [e["version"] for e in index] == [0, 1]
    assert all(set(e) == SNAPRED_INDEX_FIELDS for e in index)
    assert index[1]["runNumber"] == "58810" and index[1]["appliesTo"] == ">=58810" and index[1]["useLiteMode"]
    loaded = load_version(home, SID, lite=True, version=1)
    np.testing.assert_array_equal(loaded.table.difc, table.difc)
    np.testing.assert_array_equal(loaded.mask, table.use == 0)
    assert loaded.record.groupMetrics[0]["sigma_mean"] == 0.002 and loaded.record.softwareVersion.startswith("snapcal")


def test_extra_files_are_copied_and_checksummed(home, tmp_path):
    plot = tmp_path / "plot.png"
    plot.write_bytes(b"\x89PNG fake")
    save_calibration(home, request(), small_table(2), extra_files={"quality.png": plot})
    loaded = load_version(home, SID, lite=True, version=1)
    assert "quality.png" in loaded.record.checksums and loaded.files["quality.png"].read_bytes() == plot.read_bytes()
    loaded.files["quality.png"].write_bytes(b"tampered")
    with pytest.raises(StorageError, match="quality.png does not match the checksum"):
        load_version(home, SID, lite=True, version=1)


def test_applies_to_parsing_and_applicable_version(home):
    assert applies(">=5,<9", 5) and not applies(">=5,<9", 9) and applies("7", 7) and not applies(">7", 7)
    assert normalise(" >= 5 , <9") == ">=5,<9"
    for bad in ("", "abc", ">=x", "5-9", "=>5"):
        with pytest.raises(StorageError, match="appliesTo"):
            normalise(bad)
    save_calibration(home, request(run=100), small_table(3))
    save_calibration(home, request(run=200, applies_to=">=200,<300"), small_table(4))
    save_calibration(home, request(run=150, applies_to="150"), small_table(5))
    assert applicable_version(home, SID, lite=True, run_number=50).version == 0
    assert applicable_version(home, SID, lite=True, run_number=120).version == 1
    assert applicable_version(home, SID, lite=True, run_number=250).version == 2
    assert applicable_version(home, SID, lite=True, run_number=150).version == 3
    assert applicable_version(home, SID, lite=True, run_number=350).version == 1


def test_invalid_input_writes_nothing(home):
    for kwargs, message in (({"author": " "}, "author"), ({"comments": "x" * 5000}, "comments"),
                            ({"applies_to": ">=abc"}, "appliesTo"), ({"run": -4}, "run number")):
        with pytest.raises((ValidationError, StorageError), match=message):
            save_calibration(home, request(**kwargs), small_table(6))
    assert not home.exists()


def test_user_strings_cannot_leave_the_calibration_home(home, tmp_path):
    for bad in ("../../etc", "04bd2c53f6bf675/", "04BD2C53F6BF6754", "..", "g" * 16):
        with pytest.raises(StorageError):
            list_versions(home, bad, lite=True)
    outside = tmp_path / "x.png"
    outside.write_bytes(b"x")
    with pytest.raises(StorageError, match="plain file name"):
        save_calibration(home, request(), small_table(7), extra_files={"../../evil.png": outside})
    assert not (home.parent / "evil.png").exists()
    assert list_versions(home, SID, lite=True)[-1].version == 0  # nothing was published


def test_corrupt_index_is_an_error_and_repair_rebuilds_it(home):
    save_calibration(home, request(), small_table(8))
    save_calibration(home, request(), small_table(9))
    index = diffraction_dir(home, SID, lite=True) / "CalibrationIndex.json"
    index.write_text('[{"runNumber": "1", "version": ')
    with pytest.raises(CorruptIndexError, match="snapcal index repair"):
        list_versions(home, SID, lite=True)
    report = reconcile(diffraction_dir(home, SID, lite=True))
    assert report.index_was_corrupt and report.added_entries == [0, 1, 2]
    assert [e.version for e in list_versions(home, SID, lite=True)] == [0, 1, 2]


def test_diffcal_layout_matches_mantid_reference(home, shared_reference):
    save_calibration(home, request(), small_table(10))
    ours = version_dir(home, SID, lite=True, version=1) / "diffract_consts_058810_v0001.h5"

    def describe(path):
        out = {}
        with h5py.File(path) as f:
            f.visititems(lambda n, o: out.__setitem__(n, (type(o).__name__, o.dtype.kind if hasattr(o, "dtype") else None,
                                                          o.dtype.itemsize if hasattr(o, "dtype") and o.dtype.kind != "S" else None,
                                                          sorted(o.attrs))))
        return out

    assert describe(ours) == describe(shared_reference / "snap" / "SNAPFocGroup_Column.lite.hdf")
    assert read_diffcal(ours).instrument_name == "SNAP"


def test_index_cli(home, monkeypatch):
    from snapcal_core.cli import _register_all, app

    _register_all()
    monkeypatch.setenv("SNAPCAL_CALIBRATION_HOME", str(home))
    save_calibration(home, request(comments="from the cli test"), small_table(11))
    runner = CliRunner()
    out = runner.invoke(app, ["index", "list"])
    assert out.exit_code == 0 and "from the cli test" in out.output and "58810" in out.output
    out = runner.invoke(app, ["index", "applies", "60000"])
    assert out.exit_code == 0 and "version 1" in out.output
    out = runner.invoke(app, ["index", "show", "1", "--json"])
    assert out.exit_code == 0 and '"author": "alice"' in out.output
    out = runner.invoke(app, ["index", "repair"])
    assert out.exit_code == 0 and "consistent" in out.output
