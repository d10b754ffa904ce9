"""Raw SNS event files in the facility's layout (built with h5py, not snapcal's writer).

Event groups are found by ``NX_class = NXevent_data``; a missing panel, empty banks, the
diagnostic groups, a monitor and ids beyond the instrument are counts, not crashes; the pulses
(``event_time_zero`` / ``event_index``) map each event to its pulse time.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from snapcal_core.constants import REFERENCE_STATE_ID
from snapcal_core.data.load import event_pulses, load_event_file, load_run
from snapcal_core.data.locate import raw_file_path
from snapcal_core.data.read import NO_PULSE, BankPulses, read_events, read_header, read_pulses, read_raw_events
from snapcal_core.errors import MissingBankError, NoEventDataError
from snapcal_core.instrument.lite import native_to_lite
from tests.data.conftest import REFERENCE_STATE
from tests.data.sns_layout import (
    IN_BAND_US,
    N_NATIVE_PIXELS,
    PANELS,
    START,
    Layout,
    Truth,
    write_sns_file,
)

#: The science groups of the default layout, in panel order (bank42 is missing).
SCIENCE = [f"{b}_events" for b in PANELS if b != "bank42"]


@pytest.fixture
def sns_run(settings_env: Path) -> Truth:
    """Run 101 of IPTS 7 as an SNS-layout raw file in the facility tree (SNAPCAL_DATA_ROOT)."""
    return write_sns_file(raw_file_path(settings_env / "data_root", ipts=7, run_number=101))


def _kept(truth: Truth) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The events a load keeps: ids inside the instrument, TOF inside the band (not the out-of-band range)."""
    ids, tof, pulse = truth.concatenated(SCIENCE)
    keep = (ids < N_NATIVE_PIXELS) & (tof <= IN_BAND_US[1])
    return ids[keep], tof[keep], pulse[keep]


def test_header_lists_the_banks_present_and_counts_the_diagnostic_groups(sns_run):
    h = read_header(sns_run.path)
    assert h.bank_names == tuple(SCIENCE) and h.missing_banks == ("bank42_events",)
    assert h.bank_sizes == tuple(sns_run.events[g][0].size for g in SCIENCE)
    assert h.empty_banks == ("bank23_events", "bank51_events")  # zero-length datasets; no event_id at all
    assert (h.n_error_events, h.n_unmapped_events) == (7, 4)
    assert h.n_events == sum(sns_run.events[g][0].size for g in SCIENCE)  # diagnostic events not included
    assert (h.run_number, h.title, h.duration_s, h.proton_charge) == (101, "facility layout", 2.0, 2.5e12)
    assert h.start_time == START and h.end_time.startswith("2026-02-03T04:05:08")
    assert h.state == REFERENCE_STATE and h.state.state_id() == REFERENCE_STATE_ID and h.lite is None


def test_events_are_the_science_banks_bank_after_bank_as_stored(sns_run):
    header, ids, tof = read_events(sns_run.path)
    want_ids, want_tof, _ = sns_run.concatenated(SCIENCE)
    assert np.array_equal(ids, want_ids) and np.array_equal(tof, want_tof)
    assert ids.dtype == np.uint32 and tof.dtype == np.float32
    assert int((ids >= N_NATIVE_PIXELS).sum()) == 7  # as stored: the reader drops nothing


@pytest.mark.parametrize("lite", [False, True])
def test_load_drops_and_counts_ids_beyond_the_instrument(sns_run, lite):
    events = load_run(101, lite=lite)
    ids, tof, _ = _kept(sns_run)
    assert np.array_equal(events.pixel, native_to_lite(ids) if lite else ids) and np.array_equal(events.tof_us, tof)
    meta = events.metadata
    assert meta.n_events_out_of_range == 7 and meta.n_events_in_file == read_header(sns_run.path).n_events
    assert (meta.n_error_events, meta.n_unmapped_events, meta.missing_banks) == (7, 4, ("bank42_events",))
    assert events.pulse_index is None and events.pulse_time_s is None  # pulses only when asked for


def test_pulses_of_each_bank_are_read_with_units_and_offset(sns_run):
    pulses = read_pulses(sns_run.path)
    assert [p.bank for p in pulses] == SCIENCE  # the bank without event_id still has its pulses
    first = 0
    for p in pulses:
        ids, _, pulse = sns_run.events[p.bank]
        assert (p.first_event, p.n_events, p.offset) == (first, ids.size, START)
        assert p.time_zero_s.dtype == np.float64 and np.array_equal(p.time_zero_s, sns_run.pulse_time_s)
        assert p.event_index.dtype == np.uint64 and p.event_index.size == sns_run.pulse_time_s.size
        assert np.array_equal(p.pulse_of_event(), pulse) and p.events_per_pulse().sum() == ids.size
        first += ids.size
    assert read_raw_events(sns_run.path, with_pulses=True).pulses[3].bank == "bank21_events"
    assert read_raw_events(sns_run.path).pulses == ()


def test_load_with_pulses_gives_each_kept_event_its_pulse_time(sns_run):
    events = load_run(101, lite=True, with_pulses=True)
    _, tof, pulse = _kept(sns_run)
    assert np.array_equal(events.tof_us, tof) and events.pulse_index.dtype == np.uint32
    assert np.array_equal(events.pulse_time_s[events.pulse_index], sns_run.pulse_time_s[pulse])
    assert events.metadata.pulse_time_offset == START


def test_a_group_without_the_event_data_class_is_not_a_bank(sns_run):
    with h5py.File(sns_run.path, "a") as f:
        f["entry/bank11_events"].attrs["NX_class"] = np.bytes_("NXcollection")
    header = read_header(sns_run.path)
    assert header.missing_banks == ("bank11_events", "bank42_events") and "monitor1" not in header.bank_names
    assert load_run(101, lite=False).metadata.n_events_out_of_range == 5  # bank11's two are gone with it


def test_other_event_data_groups_are_read_after_the_panels(settings_env):
    path = raw_file_path(settings_env / "data_root", ipts=7, run_number=101)
    truth = write_sns_file(path, layout=Layout(extra_groups=("bank_extra_events",)))
    header, ids, _ = read_events(path)
    assert header.bank_names == (*SCIENCE, "bank_extra_events")
    assert np.array_equal(ids, truth.concatenated([*SCIENCE, "bank_extra_events"])[0])


@pytest.mark.parametrize("keep", [(), ("bank_error_events", "bank_unmapped_events")])
def test_a_file_without_detector_event_groups_is_a_typed_error_naming_it(sns_run, keep):
    with h5py.File(sns_run.path, "a") as f:
        for name in list(f["entry"]):
            if name.endswith("_events") and name not in keep:
                del f[f"entry/{name}"]
    with pytest.raises(NoEventDataError, match=r"SNAP_101\.nxs\.h5: /entry holds no NXevent_data group") as err:
        load_run(101, lite=True)
    assert all(name in str(err.value) for name in keep)


def test_a_bank_with_events_but_no_tof_names_the_group_and_field(sns_run):
    with h5py.File(sns_run.path, "a") as f:
        del f["entry/bank33_events/event_time_offset"]
    with pytest.raises(MissingBankError, match=r"SNAP_101.*/entry/bank33_events/event_time_offset is missing"):
        read_events(sns_run.path)


def _pulses(index: list[int], *, n_events: int, times: list[float] | None = None, offset: str = START,
            first_event: int = 0) -> BankPulses:
    times = [float(i) for i in range(len(index))] if times is None else times
    return BankPulses(bank="bank11_events", first_event=first_event, n_events=n_events,
                      time_zero_s=np.array(times), event_index=np.array(index, np.uint64), offset=offset)


def test_event_index_edge_cases_follow_mantid():
    assert _pulses([0, 2, 2, 5], n_events=6).pulse_of_event().tolist() == [0, 0, 2, 2, 2, 3]
    assert _pulses([2, 3], n_events=4).pulse_of_event().tolist() == [0, 0, 0, 1]  # before index[0]: pulse 0
    assert _pulses([0, 9], n_events=3).pulse_of_event().tolist() == [0, 0, 0]  # beyond the bank: clipped
    assert _pulses([0, 3, 1], n_events=4).pulse_of_event().tolist() == [0, 0, 0, 2]  # going back: clipped
    assert _pulses([], n_events=0).pulse_of_event().size == 0


def test_banks_with_other_offsets_or_pulses_share_one_pulse_table():
    a = _pulses([0, 1], n_events=2, times=[0.0, 1.0])
    b = _pulses([0, 1], n_events=2, times=[0.0, 1.0], offset="2026-02-03T04:05:07.123456789-05:00", first_event=2)
    c = _pulses([0], n_events=1, times=[0.5], first_event=4)
    index, table, offset = event_pulses((a, b, c), n_events=6)  # the sixth event's bank has no pulses
    assert offset == START and table.tolist() == [0.0, 0.5, 1.0, 2.0]
    assert index[:5].tolist() == [0, 2, 2, 3, 1] and index[5] == NO_PULSE
    assert event_pulses((), n_events=2)[0].tolist() == [NO_PULSE, NO_PULSE]


def test_a_snapcal_written_file_still_loads_the_same_way(facility):
    raw = raw_file_path(facility, ipts=7, run_number=101)
    events = load_event_file(raw, lite_requested=False, with_pulses=True)
    assert events.metadata.missing_banks == () and events.metadata.n_events_out_of_range == 0
    assert events.pulse_index.size == events.n_events and NO_PULSE not in events.pulse_index
