"""The SNS-layout event-file writer: layout, round trip, pulses, atomicity."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from snapcal_core.constants import N_LITE_PIXELS, N_NATIVE_PIXELS
from snapcal_core.data.nexus import BANK_NAMES, EventFileWriter, pulse_index
from snapcal_core.data.read import read_events, read_header
from snapcal_core.data.state import state_logs
from tests.data.conftest import REFERENCE_STATE


def _writer(path, **kw):
    args = dict(run_number=42, title="round trip", start_time="2026-03-01T10:00:00", duration_s=2.5,
                proton_charge=3.25, das_logs=state_logs(REFERENCE_STATE))
    return EventFileWriter(path, **{**args, **kw})


def test_bank_names_are_the_idf_panels_in_id_order():
    assert len(BANK_NAMES) == 18
    assert BANK_NAMES[:4] == ("bank11", "bank12", "bank13", "bank21")
    assert BANK_NAMES[8:10] == ("bank33", "bank41") and BANK_NAMES[-1] == "bank63"


@pytest.mark.parametrize("compression", ["gzip", None])
def test_events_split_by_panel_and_read_back_in_append_order(tmp_path, compression):
    rng = np.random.default_rng(1)
    ids = [rng.integers(0, N_NATIVE_PIXELS, n).astype(np.uint32) for n in (3000, 1, 2500)]
    tofs = [rng.uniform(1000, 16000, i.size).astype(np.float32) for i in ids]
    with _writer(tmp_path / "run.nxs.h5", compression=compression, chunk_events=700) as w:
        for i, t in zip(ids, tofs):
            w.append(i, t)
    all_ids, all_tofs = np.concatenate(ids), np.concatenate(tofs)
    header, got_ids, got_tofs = read_events(tmp_path / "run.nxs.h5")
    panel = all_ids // 65536
    order = np.argsort(panel, kind="stable")  # bank after bank, append order within a bank
    assert np.array_equal(got_ids, all_ids[order]) and np.array_equal(got_tofs, all_tofs[order])
    assert header.bank_sizes == tuple(np.bincount(panel, minlength=18))
    with h5py.File(tmp_path / "run.nxs.h5") as f:
        bank = f["entry/bank42_events"]
        assert bank["event_id"][()].min() // 65536 == BANK_NAMES.index("bank42")
        assert bank["event_id"].compression == compression and bank["event_id"].chunks[0] <= 700
        assert bank["event_id"].shuffle == (compression is not None)


def test_file_has_sns_layout_classes_units_and_metadata(tmp_path):
    with _writer(tmp_path / "run.nxs.h5") as w:
        w.append(np.array([0, 70000, 1_179_647], np.uint32), np.array([5000, 6000, 7000], np.float32))
    with h5py.File(tmp_path / "run.nxs.h5") as f:
        entry = f["entry"]
        assert entry.attrs["NX_class"] == b"NXentry" and entry.attrs["pixel_mode"] == b"native"
        for name in BANK_NAMES:
            bank = entry[f"{name}_events"]
            assert bank.attrs["NX_class"] == b"NXevent_data"
            assert bank["event_id"].dtype == np.uint32 and bank["event_time_offset"].dtype == np.float32
            assert bank["event_index"].dtype == np.uint64 and bank["event_time_zero"].dtype == np.float64
        assert entry["bank11_events/event_time_offset"].attrs["units"] == b"microsecond"
        assert entry["run_number"][0] == b"42" and entry["title"][0] == b"round trip"
        assert entry["start_time"][0] == b"2026-03-01T10:00:00"
        assert entry["end_time"][0] == b"2026-03-01T10:00:02.500000"
        assert entry["duration"][0] == 2.5 and entry["proton_charge"][0] == 3.25
        logs = entry["DASlogs"]
        assert logs.attrs["NX_class"] == b"NXcollection"
        assert logs["det_arc1"].attrs["NX_class"] == b"NXlog"
        assert logs["det_arc1/value"][-1] == -65.3 and logs["det_arc1/time"].shape == (1,)
        assert logs["BL3:Chop:Skf1:WavelengthUserReq/value"][-1] == 2.1


def test_pulses_are_60_hz_over_the_duration_and_index_spreads_events_evenly(tmp_path):
    rng = np.random.default_rng(2)
    with _writer(tmp_path / "run.nxs.h5", duration_s=2.5) as w:
        w.append(rng.integers(0, 65536, 1000).astype(np.uint32), rng.uniform(0, 16000, 1000).astype(np.float32))
    with h5py.File(tmp_path / "run.nxs.h5") as f:
        bank = f["entry/bank11_events"]
        times, index = bank["event_time_zero"][()], bank["event_index"][()]
        assert times.size == index.size == 150  # 2.5 s at 60 Hz
        assert np.allclose(np.diff(times), 1 / 60) and times[0] == 0
        assert index[0] == 0 and np.all(np.diff(index.astype(np.int64)) >= 0) and index[-1] < 1000
        per_pulse = np.diff(np.append(index.astype(np.int64), 1000))
        assert per_pulse.min() >= 6 and per_pulse.max() <= 7  # 1000 / 150 = 6.67
        assert f["entry/bank12_events/event_index"][()].tolist() == [0] * 150  # an empty bank


def test_pulse_index_is_floor_of_even_spread():
    assert pulse_index(n_events=10, n_pulses=4).tolist() == [0, 2, 5, 7]
    assert pulse_index(n_events=0, n_pulses=3).tolist() == [0, 0, 0]


def test_lite_copy_takes_lite_ids_and_says_so(tmp_path):
    ids = np.array([0, 1023, 1024, N_LITE_PIXELS - 1], np.uint32)
    with _writer(tmp_path / "lite.nxs.h5", lite=True) as w:
        w.append(ids, np.full(4, 5000, np.float32))
        with pytest.raises(ValueError, match=f"event id {N_LITE_PIXELS}"):
            w.append(np.array([N_LITE_PIXELS], np.uint32), np.array([1.0], np.float32))
    header = read_header(tmp_path / "lite.nxs.h5")
    assert header.lite is True and header.bank_sizes[:2] == (2, 1) and header.bank_sizes[-1] == 1
    assert header.run_number == 42 and header.state == REFERENCE_STATE


def test_bad_events_are_refused(tmp_path):
    with _writer(tmp_path / "run.nxs.h5") as w:
        with pytest.raises(ValueError, match="differ in shape"):
            w.append(np.zeros(3, np.uint32), np.zeros(2, np.float32))
        with pytest.raises(ValueError, match="event id -1"):
            w.append(np.array([-1]), np.array([1.0]))
        w.append(np.zeros(0, np.uint32), np.zeros(0, np.float32))
    assert read_header(tmp_path / "run.nxs.h5").n_events == 0


def test_nothing_appears_until_close_and_nothing_stays_after_an_exception(tmp_path):
    target = tmp_path / "out" / "SNAP_5.nxs.h5"
    w = _writer(target)
    w.append(np.array([1], np.uint32), np.array([5000.0], np.float32))
    assert not target.exists()
    assert w.close() == target and target.is_file()
    assert w.close() == target  # idempotent
    with pytest.raises(RuntimeError, match="crash"):
        with _writer(tmp_path / "out" / "SNAP_6.nxs.h5") as w:
            w.append(np.array([1], np.uint32), np.array([5000.0], np.float32))
            raise RuntimeError("crash")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["SNAP_5.nxs.h5"]


def test_an_abandoned_writer_leaves_no_temporary_file(tmp_path):
    import gc

    w = _writer(tmp_path / "SNAP_7.nxs.h5")
    w.append(np.array([1], np.uint32), np.array([5000.0], np.float32))
    del w
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_failure_at_close_keeps_an_existing_file(tmp_path):
    target = tmp_path / "SNAP_8.nxs.h5"
    target.write_bytes(b"previous")
    w = _writer(target, das_logs={"det_arc1": "not a number"})
    w.append(np.array([1], np.uint32), np.array([5000.0], np.float32))
    with pytest.raises(ValueError):
        w.close()
    assert target.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["SNAP_8.nxs.h5"]
