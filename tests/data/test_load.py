"""Loading runs: native and Lite, the TOF-band crop, Lite copies, and typed errors with nothing written."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from snapcal_core.constants import L1_M, REFERENCE_STATE_ID
from snapcal_core.data.load import load_event_file, load_run, pixel_band_us, read_event_file
from snapcal_core.data.locate import lite_file_path
from snapcal_core.data.read import read_header
from snapcal_core.data.state import state_logs
from snapcal_core.errors import (
    CorruptFileError,
    InvalidRunNumberError,
    IptsNotFoundError,
    MissingBankError,
    MissingLogError,
    NoEventsInBandError,
    RunNotFoundError,
    SnapcalError,
)
from snapcal_core.instrument.band import tof_band_us
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.lite import native_to_lite
from tests.data.conftest import REFERENCE_STATE, write_run


def _raw(root):
    return root / "SNAP" / "IPTS-7" / "nexus" / "SNAP_101.nxs.h5"


def _lite_dir(root):
    return lite_file_path(root, ipts=7, run_number=101).parent


def _expected_in_band(path):
    """The file's events kept by a plain numpy crop with the native per-pixel band."""
    ids, tof, _ = read_event_file(path)
    geometry = snap_geometry(arc_deg=REFERENCE_STATE.arc_deg, lin_m=REFERENCE_STATE.lin_m)
    lo, hi = tof_band_us(l_total_m=L1_M + geometry.l2_m, wavelength_angstrom=REFERENCE_STATE.wavelength_angstrom)
    keep = (np.float32(lo)[ids] <= tof) & (tof <= np.float32(hi)[ids])
    return ids[keep], tof[keep]


def test_native_load_keeps_exactly_the_events_inside_each_pixels_band(settings_env):
    root = settings_env / "data_root"
    path = write_run(root, tof_range=(100.0, 60000.0), n=20000)
    events = load_run(101, lite=False)
    ids, tof = _expected_in_band(path)
    assert 0 < events.n_events == ids.size < 20000
    assert np.array_equal(events.pixel, ids) and np.array_equal(events.tof_us, tof)
    assert events.pixel.dtype == np.uint32 and events.tof_us.dtype == np.float32 and not events.lite
    # reference state: band 0.65-3.6 A over L_total ~15.5-15.7 m -> about 2,550-14,300 us
    assert events.tof_us.min() > 2400 and events.tof_us.max() < 14400


def test_lite_load_is_the_native_load_mapped_to_lite(facility):
    native = load_run(101, lite=False)
    lite = load_run("101", lite=True)
    assert lite.lite and np.array_equal(lite.pixel, native_to_lite(native.pixel))
    assert np.array_equal(lite.tof_us, native.tof_us)


def test_metadata_names_run_ipts_state_and_file(facility):
    meta = load_run(101, lite=True).metadata
    assert (meta.run_number, meta.ipts, meta.title, meta.proton_charge) == (101, 7, "test run", 1.5)
    assert meta.start_time == "2026-01-01T00:00:00" and meta.end_time == "2026-01-01T00:00:10"
    assert meta.state == REFERENCE_STATE and meta.state.state_id() == REFERENCE_STATE_ID
    assert meta.raw_path == str(_raw(facility))


def test_uncompressed_and_gzip_files_load_the_same(settings_env):
    a = load_event_file(write_run(settings_env / "a", compression="gzip"), lite_requested=False)
    b = load_event_file(write_run(settings_env / "b", compression=None), lite_requested=False)
    assert np.array_equal(a.pixel, b.pixel) and np.array_equal(a.tof_us, b.tof_us)


def test_lite_copy_is_written_atomically_then_used(facility):
    first = load_run(101, lite=True, write_lite=True)
    lite_path = lite_file_path(facility, ipts=7, run_number=101)
    assert [p.name for p in lite_path.parent.iterdir()] == [lite_path.name]
    header = read_header(lite_path)
    assert header.lite is True and header.n_events == first.n_events and header.duration_s == 10.0
    again = load_run(101, lite=True)
    assert again.metadata.raw_path == str(lite_path) and again.metadata.state == first.metadata.state
    assert np.array_equal(np.sort(again.pixel), np.sort(first.pixel))  # the union band keeps every event
    assert np.array_equal(np.sort(again.tof_us), np.sort(first.tof_us))
    raw = load_run(101, lite=True, use_lite_file=False)
    assert raw.metadata.raw_path == str(_raw(facility))
    with pytest.raises(SnapcalError, match="Lite copy"):
        load_event_file(lite_path, lite_requested=False)


def test_native_load_can_write_the_lite_copy(facility):
    native = load_run(101, lite=False, write_lite=True)
    assert not native.lite
    lite = load_run(101, lite=True)
    assert lite.metadata.raw_path.endswith(".lite.nxs.h5")
    assert np.array_equal(np.sort(lite.pixel), np.sort(native_to_lite(native.pixel)))


def test_lite_band_is_the_union_of_its_native_pixels_bands():
    kw = dict(arc_deg=REFERENCE_STATE.arc_deg, lin_m=REFERENCE_STATE.lin_m, wavelength_angstrom=2.1)
    lo_n, hi_n = pixel_band_us(**kw, lite=False)
    lo_l, hi_l = pixel_band_us(**kw, lite=True)
    assert lo_l.shape == (18432,) and not lo_l.flags.writeable
    members = native_to_lite(np.arange(lo_n.size))
    lo_expected, hi_expected = np.full(18432, np.inf, np.float32), np.zeros(18432, np.float32)
    np.minimum.at(lo_expected, members, lo_n)
    np.maximum.at(hi_expected, members, hi_n)
    assert np.array_equal(lo_l, lo_expected) and np.array_equal(hi_l, hi_expected)


@pytest.mark.parametrize("bad", ["abc", 0, -3, "1.5", "", None])
def test_bad_run_numbers_are_typed_errors(facility, bad):
    with pytest.raises(InvalidRunNumberError):
        load_run(bad, lite=True)


def test_unknown_run_names_the_run(facility):
    with pytest.raises(IptsNotFoundError, match="run 999"):
        load_run(999, lite=True)


def test_missing_raw_file_beside_a_lite_only_run_is_run_not_found(facility):
    load_run(101, lite=True, write_lite=True)
    _raw(facility).unlink()
    assert load_run(101, lite=True).n_events > 0  # the Lite copy is enough for Lite
    with pytest.raises(RunNotFoundError, match="SNAP_101.nxs.h5"):
        load_run(101, lite=False)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_files_are_named_and_nothing_is_written(facility, damage):
    path = _raw(facility)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"garbage" * 100)
    with pytest.raises(CorruptFileError, match="SNAP_101.nxs.h5"):
        load_run(101, lite=True, write_lite=True)
    assert not _lite_dir(facility).exists()


def test_damaged_compressed_event_data_is_a_corrupt_file(facility):
    path = _raw(facility)
    with h5py.File(path) as f:  # the file still opens; inflating this chunk fails
        info = f["entry/bank63_events/event_time_offset"].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    data[info.byte_offset : info.byte_offset + info.size] = b"\xff" * info.size
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="cannot read event file .*SNAP_101.nxs.h5"):
        load_run(101, lite=False, write_lite=True)
    assert not _lite_dir(facility).exists()


def test_a_missing_bank_is_reported_and_the_others_load(facility):
    before = load_run(101, lite=False)
    with h5py.File(_raw(facility), "a") as f:
        n_bank42 = f["entry/bank42_events/event_id"].shape[0]
        del f["entry/bank42_events"]
    events = load_run(101, lite=False)
    assert events.metadata.missing_banks == ("bank42_events",)
    assert events.metadata.n_events_in_file == 5000 - n_bank42
    panel = before.pixel // 65536
    assert np.array_equal(events.pixel, before.pixel[panel != 10])  # bank42 is panel k = 10


def test_a_bank_whose_fields_disagree_names_the_file_group_and_field(facility):
    with h5py.File(_raw(facility), "a") as f:
        del f["entry/bank42_events/event_time_offset"]
        f["entry/bank42_events"].create_dataset("event_time_offset", data=np.zeros(3, np.float32))
    with pytest.raises(MissingBankError, match=r"SNAP_101.*/entry/bank42_events/event_time_offset has shape \(3,\)"):
        load_run(101, lite=True, write_lite=True)
    assert not _lite_dir(facility).exists()


def test_missing_pv_names_the_pv(settings_env):
    logs = {k: v for k, v in state_logs(REFERENCE_STATE).items() if k != "det_arc2"}
    write_run(settings_env / "data_root", logs=logs)
    with pytest.raises(MissingLogError, match="'det_arc2'.*SNAP_101"):
        load_run(101, lite=True, write_lite=True)
    assert not _lite_dir(settings_env / "data_root").exists()


def test_no_events_in_band_names_the_run(settings_env):
    write_run(settings_env / "data_root", tof_range=(30000.0, 40000.0))
    with pytest.raises(NoEventsInBandError, match="run 101"):
        load_run(101, lite=True, write_lite=True)
    assert not _lite_dir(settings_env / "data_root").exists()


@pytest.mark.parametrize("lite", [False, True])
def test_ids_beyond_the_instrument_are_counted_and_dropped(facility, lite):
    before = load_event_file(_raw(facility), lite_requested=lite)
    with h5py.File(_raw(facility), "a") as f:
        ids = f["entry/bank63_events/event_id"]
        ids[0], ids[1] = 2_000_000, 1_179_648
    after = load_event_file(_raw(facility), lite_requested=lite)
    assert after.metadata.n_events_out_of_range == 2 and before.metadata.n_events_out_of_range == 0
    assert after.metadata.n_events_in_file == 5000 and after.n_events <= before.n_events
    assert after.pixel.max() < (18432 if lite else 1_179_648)


def test_native_ids_in_a_file_read_as_lite_are_out_of_range_not_a_crash(facility):
    with h5py.File(_raw(facility), "a") as f:
        for name in f["entry"]:
            if name.endswith("_events") and f[f"entry/{name}/event_id"].shape[0]:
                f[f"entry/{name}/event_id"][...] = 20_000  # a native id, beyond the 18,432 Lite pixels
    with pytest.raises(NoEventsInBandError, match="5000 events, 5000 of them with ids beyond the 18432 pixels"):
        load_event_file(_raw(facility), lite_requested=True, file_is_lite=True)


def test_a_file_of_another_run_is_refused(facility):
    write_run(facility, run=202, ipts=7)
    (facility / "SNAP" / "IPTS-7" / "nexus" / "SNAP_202.nxs.h5").replace(_raw(facility))
    with pytest.raises(CorruptFileError, match="holds run 202, not run 101"):
        load_run(101, lite=False)


def test_tof_in_nanoseconds_is_converted_to_microseconds(facility):
    before = load_run(101, lite=False)
    with h5py.File(_raw(facility), "a") as f:
        for name in f["entry"]:
            if name.endswith("_events"):
                ds = f[f"entry/{name}/event_time_offset"]
                ds[...] = ds[()] * np.float32(1000)
                ds.attrs["units"] = np.bytes_("nanosecond")
    after = load_run(101, lite=False)
    assert np.array_equal(after.pixel, before.pixel) and np.allclose(after.tof_us, before.tof_us, rtol=1e-6)
