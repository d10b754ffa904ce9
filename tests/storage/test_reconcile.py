"""Index and folders are brought back into agreement; a broken index is an error, never an empty list."""

import json
import shutil

import pytest

from snapcal_core.errors import StorageError
from snapcal_core.storage.index import CorruptIndexError, read_index, write_index
from snapcal_core.storage.paths import diffraction_dir
from snapcal_core.storage.reconcile import reconcile
from snapcal_core.storage.store import list_versions, load_version, save_calibration
from tests.storage._helpers import SID, assert_tables_equal, request, small_table


@pytest.fixture
def three_versions(home):
    for i in range(3):
        save_calibration(home, request(run=100 + i), small_table(i))
    return diffraction_dir(home, SID, lite=True)


def _versions(home):
    return [e.version for e in list_versions(home, SID, lite=True)]


@pytest.mark.parametrize("broken", ['[{"runNumber": "1", "version": ', '{"not": "a list"}', "[{}]", "\udcff",
                                    '[{"runNumber": "1", "useLiteMode": true, "version": -3, "appliesTo": ">=1", '
                                    '"timestamp": 1.0}]'])
def test_a_corrupt_index_is_an_error_naming_repair_and_repair_rebuilds_it_keeping_a_backup(home, three_versions,
                                                                                           broken):
    index = three_versions / "CalibrationIndex.json"
    original = index.read_text()
    index.write_text(broken, errors="surrogateescape")
    with pytest.raises(CorruptIndexError, match="snapcal index repair"):
        list_versions(home, SID, lite=True)
    report = reconcile(three_versions)
    assert report.index_was_corrupt and report.added_entries == [0, 1, 2, 3]
    assert _versions(home) == [0, 1, 2, 3]
    assert json.loads(index.read_text()) == json.loads(original)  # entries come back exactly from the records
    assert (three_versions / report.backup).read_text(errors="surrogateescape") == broken


def test_duplicate_versions_in_the_index_are_corruption(home, three_versions):
    entries = read_index(three_versions)
    (three_versions / "CalibrationIndex.json").write_text(
        json.dumps([e.model_dump() for e in entries + [entries[2]]]))
    with pytest.raises(CorruptIndexError, match=r"version\(s\) \[2\] listed more than once"):
        list_versions(home, SID, lite=True)


def test_a_folder_without_index_entry_is_reported_then_indexed_by_repair_or_the_next_save(home, three_versions):
    entries = read_index(three_versions)
    write_index(three_versions, entries[:-1])  # as if the writer of v_0003 died before indexing
    check = reconcile(three_versions, repair=False)
    assert check.added_entries == [3] and _versions(home) == [0, 1, 2]
    assert "unindexed v_0003 (its folder had no index entry)" in check.lines()
    assert save_calibration(home, request(run=500), small_table(50)).version == 4
    assert _versions(home) == [0, 1, 2, 3, 4]
    assert read_index(three_versions)[3] == entries[3]  # the entry comes back exactly, from the record
    assert reconcile(three_versions).lines() == ["consistent"]


def test_an_entry_without_folder_is_dropped_with_a_backup(home, three_versions):
    shutil.rmtree(three_versions / "v_0002")
    report = reconcile(three_versions)
    assert report.dropped_entries == [2] and _versions(home) == [0, 1, 3]
    assert [e["version"] for e in json.loads((three_versions / report.backup).read_text())] == [0, 1, 2, 3]
    assert save_calibration(home, request(), small_table(9)).version == 4  # numbers are never reused


def test_an_invalid_folder_is_reported_and_never_deleted(home, three_versions):
    (three_versions / "v_0002" / "CalibrationRecord.json").unlink()
    table = next((three_versions / "v_0003").glob("diffract_consts_*"))
    table.write_bytes(table.read_bytes()[:-10])
    (three_versions / "v_0007").mkdir()  # hand-made, no record, no entry
    report = reconcile(three_versions)
    assert sorted(report.invalid_versions) == [2, 3, 7]
    assert "no CalibrationRecord.json" in report.invalid_versions[2]
    assert "does not match the checksum" in report.invalid_versions[3]
    assert all((three_versions / f"v_{v:04d}").is_dir() for v in (2, 3, 7))
    assert _versions(home) == [0, 1, 2, 3]
    with pytest.raises(StorageError, match="does not exist or is incomplete"):
        load_version(home, SID, lite=True, version=2)
    assert save_calibration(home, request(), small_table(9)).version == 8


def test_stale_temporaries_are_removed_and_listing_ignores_them(home, three_versions):
    (three_versions / ".tmp_v_0004_deadbeef").mkdir()
    (three_versions / ".tmp_v_0004_deadbeef" / "half.h5").write_bytes(b"\0" * 10)
    (three_versions / ".CalibrationIndex.json.0123.tmp").write_text("[")
    assert _versions(home) == [0, 1, 2, 3]
    report = reconcile(three_versions)
    assert sorted(report.removed_temporary) == [".CalibrationIndex.json.0123.tmp", ".tmp_v_0004_deadbeef"]
    assert not list(three_versions.glob(".tmp*")) and not list(three_versions.glob("*.tmp"))
    assert_tables_equal(load_version(home, SID, lite=True, version=3).table, small_table(2))


def test_a_snapred_written_index_with_legacy_fields_reads(home, three_versions):
    index = three_versions / "CalibrationIndex.json"
    raw = json.loads(index.read_text())
    raw[1].update(timestamp=1_700_000_000_123, comments=None, author=None, runNumber=100)  # SNAPRed legacy forms
    raw[2]["extraField"] = "kept"
    index.write_text(json.dumps(raw))
    entries = list_versions(home, SID, lite=True)
    assert entries[1].timestamp == pytest.approx(1_700_000_000.123) and entries[1].comments == ""
    assert entries[1].runNumber == "100"
    write_index(three_versions, entries)
    assert json.loads(index.read_text())[2]["extraField"] == "kept"


def test_a_hand_edited_record_cannot_point_outside_its_folder(home, three_versions):
    path = three_versions / "v_0001" / "CalibrationRecord.json"
    record = json.loads(path.read_text())
    record["tableFile"] = "../../../../../../etc/passwd"
    path.write_text(json.dumps(record))
    with pytest.raises(StorageError, match="plain file name"):
        load_version(home, SID, lite=True, version=1)
    assert "plain file name" in reconcile(three_versions).invalid_versions[1]
