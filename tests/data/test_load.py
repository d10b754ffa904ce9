import shutil

import h5py
import numpy as np
import pytest

from snapcal_core.data.kernels import events_to_lite
from snapcal_core.data.load import load_event_file, load_run
from snapcal_core.data.locate import find_ipts, lite_file_path
from snapcal_core.data.nexus import BANK_NAMES
from snapcal_core.data.state import state_logs
from snapcal_core.errors import (
    CorruptFileError,
    InvalidRunNumberError,
    IptsNotFoundError,
    MissingBankError,
    MissingLogError,
    NoEventsInBandError,
)
from snapcal_core.instrument.lite import native_to_lite
from tests.data.conftest import REFERENCE_STATE, write_run


def test_written_file_has_sns_layout(facility):
    path = facility / "SNAP" / "IPTS-7" / "nexus" / "SNAP_101.nxs.h5"
    with h5py.File(path) as f:
        entry = f["entry"]
        assert entry.attrs["NX_class"] == b"NXentry"
        assert sorted(k for k in entry if k.endswith("_events")) == sorted(f"{b}_events" for b in BANK_NAMES)
        bank = entry["bank11_events"]
        assert bank["event_id"].dtype == np.uint32 and bank["event_time_offset"].dtype == np.float32
        assert bank["event_index"].dtype == np.uint64 and bank["event_time_zero"].dtype == np.float64
        assert np.all(np.diff(bank["event_index"][()].astype(np.int64)) >= 0)
        assert entry["DASlogs/det_arc1/value"][-1] == -65.3
        assert sum(entry[f"{b}_events/event_id"].shape[0] for b in BANK_NAMES) == 5000


def test_load_native_and_lite_agree_and_keep_state(facility):
    native = load_run(101, lite=False)
    lite = load_run("101", lite=True)
    assert native.metadata.ipts == 7 and native.metadata.run_number == 101
    assert native.metadata.state.state_id() == "04bd2c53f6bf6754"
    assert native.metadata.proton_charge == 1.5
    assert np.array_equal(lite.pixel, native_to_lite(native.pixel))
    assert np.array_equal(lite.tof_us, native.tof_us)
    assert native.pixel.dtype == np.uint32 and native.tof_us.dtype == np.float32
    assert 0 < native.n_events <= 5000


def test_events_outside_the_tof_band_are_cropped(settings_env):
    root = settings_env / "data_root"
    write_run(root, tof_range=(100.0, 60000.0), n=20000)
    events = load_run(101, lite=False)
    assert events.n_events < 20000
    # reference state: band 0.65-3.6 A, L_total 15.5-15.7 m -> about 2,550-14,300 us
    assert events.tof_us.min() > 2400 and events.tof_us.max() < 14400


def test_lite_copy_is_written_and_then_used(facility):
    first = load_run(101, lite=True, write_lite=True)
    lite_path = lite_file_path(facility, ipts=7, run_number=101)
    assert lite_path.is_file()
    again = load_run(101, lite=True)
    assert again.metadata.raw_path == str(lite_path)
    assert np.array_equal(np.sort(again.pixel), np.sort(first.pixel))


def test_lite_kernel_equals_numpy_map():
    ids = np.random.default_rng(4).integers(0, 1_179_648, 100_000).astype(np.uint32)
    assert np.array_equal(events_to_lite(ids), native_to_lite(ids))


def test_bad_run_numbers_are_typed_errors(facility):
    for bad in ("abc", 0, -3, "1.5", "", None):
        with pytest.raises(InvalidRunNumberError):
            load_run(bad, lite=True)
    with pytest.raises(IptsNotFoundError, match="run 999"):
        load_run(999, lite=True)


def test_new_runs_are_found_after_a_cached_miss(facility):
    assert find_ipts(101, data_root=facility) == 7
    write_run(facility, run=202, ipts=8)
    assert find_ipts(202, data_root=facility) == 8


def test_corrupt_and_truncated_files_are_named(facility):
    path = facility / "SNAP" / "IPTS-7" / "nexus" / "SNAP_101.nxs.h5"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="SNAP_101.nxs.h5"):
        load_run(101, lite=True)
    path.write_bytes(b"garbage" * 100)
    with pytest.raises(CorruptFileError, match="SNAP_101"):
        load_run(101, lite=True, write_lite=True)
    assert not lite_file_path(facility, ipts=7, run_number=101).parent.exists()


def test_missing_bank_names_the_bank(facility):
    path = facility / "SNAP" / "IPTS-7" / "nexus" / "SNAP_101.nxs.h5"
    with h5py.File(path, "a") as f:
        del f["entry/bank42_events"]
    with pytest.raises(MissingBankError, match="bank42_events"):
        load_run(101, lite=True)


def test_missing_pv_names_the_pv_and_fallbacks(settings_env):
    logs = state_logs(REFERENCE_STATE)
    del logs["BL3:Chop:Skf1:WavelengthUserReq"]
    write_run(settings_env / "data_root", logs=logs)
    with pytest.raises(MissingLogError, match="BL3:Chop:Skf1:WavelengthUserReq.*BL3:Det:TH:BL:Lambda"):
        load_run(101, lite=True)
    logs["BL3:Det:TH:BL:Lambda"] = 2.1  # the last fallback is enough
    shutil.rmtree(settings_env / "data_root")
    write_run(settings_env / "data_root", logs=logs)
    assert load_run(101, lite=True).metadata.state.state_id() == "04bd2c53f6bf6754"


def test_no_events_in_band_names_the_run(settings_env):
    write_run(settings_env / "data_root", tof_range=(30000.0, 40000.0))
    with pytest.raises(NoEventsInBandError, match="run 101"):
        load_run(101, lite=True, write_lite=True)
    assert not lite_file_path(settings_env / "data_root", ipts=7, run_number=101).parent.exists()


def test_writer_leaves_nothing_when_interrupted(tmp_path):
    from snapcal_core.data.nexus import EventFileWriter

    target = tmp_path / "SNAP_5.nxs.h5"
    with pytest.raises(RuntimeError):
        with EventFileWriter(target, run_number=5, title="t", start_time="2026-01-01T00:00:00", duration_s=1,
                             proton_charge=0, das_logs={}) as w:
            w.append(np.array([1], np.uint32), np.array([5000.0], np.float32))
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_ids_beyond_the_instrument_are_a_corrupt_file(facility):
    path = facility / "SNAP" / "IPTS-7" / "nexus" / "SNAP_101.nxs.h5"
    with h5py.File(path, "a") as f:
        ids = f["entry/bank63_events/event_id"]
        ids[0] = 2_000_000
    with pytest.raises(CorruptFileError, match="event id 2000000"):
        load_event_file(path, lite_requested=True)
