"""Run number -> IPTS -> files, with a cache that never keeps a stale answer."""

from __future__ import annotations

import re

import pytest

from snapcal_core.data.load import load_run
from snapcal_core.data.locate import find_ipts, lite_file_path, locate_run
from snapcal_core.errors import DuplicateRunError, InvalidRunNumberError, IptsNotFoundError, RunNotFoundError
from tests.data.conftest import write_run


def test_run_is_found_in_its_ipts_with_raw_and_lite_paths(facility):
    where = locate_run("101", data_root=facility)
    assert where.ipts == 7 and where.run_number == 101
    assert where.raw_path == facility / "SNAP" / "IPTS-7" / "nexus" / "SNAP_101.nxs.h5"
    assert where.lite_path == facility / "SNAP" / "IPTS-7" / "shared" / "lite" / "SNAP_101.lite.nxs.h5"


def test_a_run_added_after_a_cached_miss_is_found(facility):
    assert find_ipts(101, data_root=facility) == 7
    with pytest.raises(IptsNotFoundError):
        find_ipts(202, data_root=facility)
    write_run(facility, run=202, ipts=8)
    assert find_ipts(202, data_root=facility) == 8


def test_a_run_that_moved_is_searched_for_again(facility):
    assert find_ipts(101, data_root=facility) == 7
    (facility / "SNAP" / "IPTS-7" / "nexus" / "SNAP_101.nxs.h5").unlink()
    write_run(facility, run=101, ipts=9)
    assert find_ipts(101, data_root=facility) == 9


def test_a_run_with_only_a_lite_copy_has_an_ipts(settings_env):
    root = settings_env / "data_root"
    path = lite_file_path(root, ipts=12, run_number=55)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert find_ipts(55, data_root=root) == 12


def test_unknown_run_names_the_run_and_the_data_root(facility):
    with pytest.raises(IptsNotFoundError, match=rf"run 999 .*{facility.name}.*SNAP_999\.nxs\.h5") as err:
        find_ipts(999, data_root=facility)
    assert isinstance(err.value, RunNotFoundError)
    with pytest.raises(IptsNotFoundError, match="does not exist: check the data root"):
        find_ipts(101, data_root=facility / "nowhere")


@pytest.mark.parametrize("bad", ["abc", 0, -3, "1.5", "", None, "12x"])
def test_bad_run_numbers_are_invalid(facility, bad):
    with pytest.raises(InvalidRunNumberError):
        find_ipts(bad, data_root=facility)


def test_a_run_under_two_ipts_folders_names_both_and_picks_neither(facility):
    write_run(facility, run=101, ipts=12)
    ipts_7, ipts_12 = facility / "SNAP" / "IPTS-7", facility / "SNAP" / "IPTS-12"
    with pytest.raises(DuplicateRunError, match=re.escape(f"run 101 is under 2 IPTS folders: {ipts_7} and {ipts_12}")):
        find_ipts(101, data_root=facility)
    with pytest.raises(DuplicateRunError, match="IPTS-12"):
        load_run(101, lite=True)


def test_a_lite_copy_under_another_ipts_is_a_duplicate_too(facility):
    path = lite_file_path(facility, ipts=3, run_number=101)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    with pytest.raises(DuplicateRunError, match=r"IPTS-3 and .*IPTS-7"):
        locate_run(101, data_root=facility)
    path.unlink()
    assert find_ipts(101, data_root=facility) == 7
