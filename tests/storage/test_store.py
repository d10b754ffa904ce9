"""Saving, initialising and querying the store (SNAPRed layout), and input validation."""

import json
import os

import numpy as np
import pytest
from pydantic import ValidationError

from snapcal_core.errors import StorageError
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.storage.index import write_index
from snapcal_core.storage.paths import diffraction_dir, state_root, version_dir
from snapcal_core.storage.store import (
    applicable_version,
    init_state,
    list_states,
    list_versions,
    load_version,
    read_record,
    save_calibration,
)
from tests.storage._helpers import SID, SNAPRED_INDEX_FIELDS, STATE, assert_tables_equal, request, small_table


def _files(home):
    return {p: p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file()}


def test_init_state_writes_geometry_v0_for_both_modes_and_a_snapred_grouping_map(fresh_home):
    init_state(fresh_home, STATE)
    for lite, n in ((True, 18_432), (False, 1_179_648)):
        loaded = load_version(fresh_home, SID, lite=lite, version=0)
        geometry = snap_geometry(arc_deg=STATE.arc_deg, lin_m=STATE.lin_m, lite=lite)
        np.testing.assert_allclose(loaded.table.difc, geometry.difc_us_per_angstrom, rtol=1e-12)
        assert loaded.table.n_rows == n and not loaded.mask.any()
        assert {"CalibrationRecord.json", "CalibrationParameters.json", "diffract_consts_000000_v0000.h5"} == set(
            loaded.files)
        assert [e.version for e in list_versions(fresh_home, SID, lite=lite)] == [0]
    grouping_map = json.loads((state_root(fresh_home, SID) / "groupingMap.json").read_text())
    assert grouping_map["stateId"] == SID
    assert grouping_map["liteFocusGroups"] == [{"name": n, "definition": f"SNAPFocGroup_{n}.lite.hdf"}
                                               for n in ("Column", "Bank", "All")]
    assert [g["definition"] for g in grouping_map["nativeFocusGroups"]][0] == "SNAPFocGroup_Column.hdf"


def test_init_state_is_idempotent_and_never_overwrites_an_existing_state(home):
    grouping_map = state_root(home, SID) / "groupingMap.json"
    grouping_map.write_text(f'{{"stateId": "{SID}", "liteFocusGroups": []}}')  # a user's own map
    before = _files(home)
    init_state(home, STATE)
    assert _files(home) == before
    save_calibration(home, request(), small_table(1))  # initialises nothing again either
    unchanged = {p: t for p, t in before.items() if "v_0000" in p.parts or p.name == "groupingMap.json"}
    assert len(unchanged) == 7 and {p: t for p, t in _files(home).items() if p in unchanged} == unchanged
    assert "liteFocusGroups\": []" in grouping_map.read_text()


def test_save_writes_record_parameters_table_and_snapred_index_entry(home):
    table = small_table(1)
    saved = save_calibration(home, request(comments="first", calculation_parameters={"n_iterations": 3}), table)
    assert saved.version == 1 and saved.path.endswith("lite/diffraction/v_0001") and saved.state_id == SID
    folder = version_dir(home, SID, lite=True, version=1)
    names = {p.name for p in folder.iterdir()}
    assert names == {"CalibrationRecord.json", "CalibrationParameters.json", "diffract_consts_058810_v0001.h5"}
    index = json.loads((diffraction_dir(home, SID, lite=True) / "CalibrationIndex.json").read_text())
    assert [e["version"] for e in index] == [0, 1] and all(set(e) == SNAPRED_INDEX_FIELDS for e in index)
    assert index[1] | {"timestamp": 0} == {"runNumber": "58810", "useLiteMode": True, "version": 1,
                                           "appliesTo": ">=58810", "comments": "first", "author": "alice",
                                           "timestamp": 0}
    assert isinstance(index[1]["timestamp"], float) and abs(index[1]["timestamp"] - saved.entry.timestamp) < 1e-6
    record = json.loads((folder / "CalibrationRecord.json").read_text())
    assert record["runNumber"] == "58810" and record["useLiteMode"] is True and record["version"] == 1
    assert record["indexEntry"] == index[1] and record["stateId"] == SID
    assert record["detectorState"]["arc_deg"] == list(STATE.arc_deg)
    assert (record["calibrant"], record["grouping"]) == ("diamond", "Column")
    assert record["calculationParameters"] == {"n_iterations": 3}
    assert record["iterations"] == [{"iteration": 1, "median_shift_ppm": 3.5}]
    assert set(record["checksums"]) == names - {"CalibrationRecord.json"}
    parameters = json.loads((folder / "CalibrationParameters.json").read_text())
    assert parameters["n_iterations"] == 3 and parameters["version"] == 1 and parameters["stateId"] == SID
    loaded = load_version(home, SID, lite=True, version=1)
    assert_tables_equal(loaded.table, table)
    np.testing.assert_array_equal(loaded.mask, table.use == 0)
    assert loaded.metrics[0]["sigma_mean"] == 0.002 and loaded.record.softwareVersion.startswith("snapcal")


def test_versions_are_max_plus_one_per_mode(home):
    assert [save_calibration(home, request(run=100 + i), small_table(i)).version for i in range(3)] == [1, 2, 3]
    native = small_table(9, n=2000)
    assert save_calibration(home, request(lite=False), native).version == 1
    assert [e.version for e in list_versions(home, SID, lite=True)] == [0, 1, 2, 3]
    assert_tables_equal(load_version(home, SID, lite=False, version=1).table, native)
    assert list_states(home) == [SID]


def test_extra_files_are_copied_checksummed_and_tampering_is_detected(home, tmp_path):
    plot, focused = tmp_path / "plot.png", tmp_path / "f.h5"
    plot.write_bytes(b"\x89PNG fake")
    focused.write_bytes(os.urandom(5000))
    save_calibration(home, request(), small_table(2), extra_files={"quality.png": plot, "focused.h5": focused})
    loaded = load_version(home, SID, lite=True, version=1)
    assert set(loaded.extra_files) == {"quality.png", "focused.h5"}
    assert loaded.extra_files["focused.h5"].read_bytes() == focused.read_bytes()
    assert {"quality.png", "focused.h5"} <= set(loaded.record.checksums)
    loaded.files["quality.png"].write_bytes(b"tampered")
    with pytest.raises(StorageError, match="quality.png is missing or does not match the checksum"):
        load_version(home, SID, lite=True, version=1)
    assert read_record(home, SID, lite=True, version=1).version == 1  # the record alone still reads


def test_applicable_version_is_latest_applicable_by_time_and_v0_only_when_nothing_applies(home):
    save_calibration(home, request(run=100), small_table(3))
    save_calibration(home, request(run=200, applies_to=">=200,<300"), small_table(4))
    save_calibration(home, request(run=150, applies_to="150"), small_table(5))
    assert applicable_version(home, SID, lite=True, run_number=50).version == 0
    assert applicable_version(home, SID, lite=True, run_number=120).version == 1
    assert applicable_version(home, SID, lite=True, run_number=250).version == 2
    assert applicable_version(home, SID, lite=True, run_number=150).version == 3
    assert applicable_version(home, SID, lite=True, run_number=350).version == 1
    assert applicable_version(home, SID, lite=False, run_number=250).version == 0  # native: only the default


def _native_size_table():
    return DiffCalTable.from_difc(np.full(20_000, 5000.0))


def _nan_table():
    t = small_table(6)
    t.difc[3] = np.nan
    return t


@pytest.mark.parametrize(("kwargs", "table", "extra", "message"), [
    ({"author": " "}, None, None, "author"),
    ({"author": "eve\nroot"}, None, None, "author"),
    ({"comments": "x" * 5000}, None, None, "comments"),
    ({"applies_to": ">=abc"}, None, None, "appliesTo"),
    ({"applies_to": ">=5;rm"}, None, None, "appliesTo"),
    ({"run": -4}, None, None, "run number"),
    ({"run": "58810/../.."}, None, None, "run number"),
    ({"calibrant": ""}, None, None, "calibrant"),
    ({}, _native_size_table, None, "outside the Lite range"),
    ({}, _nan_table, None, "non-finite"),
    ({}, None, {"../../evil.png": "plot"}, "plain file name"),
    ({}, None, {".hidden": "plot"}, "plain file name"),
    ({}, None, {"CalibrationRecord.json": "plot"}, "reserved"),
    ({}, None, {"diffract_consts_000001_v0001.h5": "plot"}, "reserved"),
    ({}, None, {"ok.png": "missing"}, "does not exist"),
])
def test_invalid_input_is_refused_before_anything_is_written(fresh_home, tmp_path, kwargs, table, extra, message):
    plot = tmp_path / "plot.png"
    plot.write_bytes(b"png")
    extra_files = {k: (plot if v == "plot" else tmp_path / v) for k, v in (extra or {}).items()}
    with pytest.raises((ValidationError, StorageError), match=message):
        save_calibration(fresh_home, request(**kwargs), table() if table else small_table(6),
                         extra_files=extra_files)
    assert not fresh_home.exists()
    assert not (tmp_path / "evil.png").exists()


@pytest.mark.parametrize("bad", ["../../etc", "04bd2c53f6bf675/", "04BD2C53F6BF6754", "..", "g" * 16,
                                 SID + "\n", SID + "/../../x", ""])
def test_state_ids_that_could_steer_a_path_are_refused(fresh_home, bad):
    for query in (lambda: list_versions(fresh_home, bad, lite=True),
                  lambda: read_record(fresh_home, bad, lite=True, version=1),
                  lambda: load_version(fresh_home, bad, lite=True, version=1),
                  lambda: applicable_version(fresh_home, bad, lite=True, run_number=5)):
        with pytest.raises(StorageError, match="state id"):
            query()
    assert not fresh_home.exists()


@pytest.mark.parametrize("version", [-1, 10_000, True, 1.5, "1"])
def test_versions_outside_0_to_9999_are_refused(home, version):
    with pytest.raises(StorageError, match="version"):
        load_version(home, SID, lite=True, version=version)


def test_a_symlink_leading_out_of_the_calibration_home_is_refused(fresh_home, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (fresh_home / "Powder").mkdir(parents=True)
    (fresh_home / "Powder" / SID).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StorageError, match="leaves the calibration home"):
        save_calibration(fresh_home, request(), small_table(7))
    assert not any((tmp_path / "elsewhere").iterdir())


def test_a_missing_version_is_a_clear_error(home):
    save_calibration(home, request(), small_table(8))
    with pytest.raises(StorageError, match="version 7 of state .* does not exist"):
        load_version(home, SID, lite=True, version=7)


def test_timestamps_increase_with_the_version_even_if_a_clock_was_ahead(home):
    save_calibration(home, request(run=100), small_table(1))
    directory = diffraction_dir(home, SID, lite=True)
    entries = list_versions(home, SID, lite=True)
    entries[1] = entries[1].model_copy(update={"timestamp": entries[1].timestamp + 3600})  # a host an hour ahead
    write_index(directory, entries)
    saved = save_calibration(home, request(run=100), small_table(2))
    assert saved.entry.timestamp > entries[1].timestamp
    assert applicable_version(home, SID, lite=True, run_number=200).version == 2


def test_version_9999_is_the_last(home):
    (diffraction_dir(home, SID, lite=True) / "v_9999").mkdir()
    with pytest.raises(StorageError, match="9999"):
        save_calibration(home, request(), small_table(1))
