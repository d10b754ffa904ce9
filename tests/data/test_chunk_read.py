"""The chunk path (stored chunks read with pread, inflated by ISA-L, cropped in the same pass on
all cores) gives, bit for bit, what reading everything through h5py gives, for every storage
layout of the event datasets; layouts it does not decode go through h5py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from snapcal_core.data import chunks, event_pass, load, read
from snapcal_core.data.load import load_event_file, write_lite_file
from snapcal_core.data.read import read_raw_events
from snapcal_core.data.screen import MaskReason, ScreenSettings
from snapcal_core.errors import CorruptFileError
from snapcal_core.threads import numba_threads
from tests.data.sns_layout import Layout, write_sns_file

#: Storage of ``event_id`` / ``event_time_offset`` -> h5py create_dataset options (chunks of 97
#: events: several per bank, the last one partial).
LAYOUTS = {
    "shuffle_gzip": dict(chunks=(97,), shuffle=True, compression="gzip", compression_opts=1),
    "gzip": dict(chunks=(97,), compression="gzip", compression_opts=6),
    "chunked_uncompressed": dict(chunks=(97,)),
    "contiguous": dict(),
    "lzf": dict(chunks=(97,), compression="lzf"),
    "gzip_fletcher32": dict(chunks=(97,), compression="gzip", fletcher32=True),
    "big_endian": dict(chunks=(97,), compression="gzip", big_endian=True),
    "ids_int64": dict(chunks=(97,), compression="gzip", ids_dtype=np.int64),
    "unlike_chunks": dict(chunks=(97,), compression="gzip", tof_chunks=(64,)),
}
#: Layout -> (ids, TOFs) the chunk path decodes itself (the rest go through h5py).
DECODED = {"shuffle_gzip": (True, True), "gzip": (True, True), "chunked_uncompressed": (True, True),
           "unlike_chunks": (True, True), "ids_int64": (False, True)}


def screen_every_third(counts: np.ndarray, settings: ScreenSettings) -> np.ndarray:
    """A stand-in screen for small files (too sparse for the real one): every third pixel with
    events is hot, so their events are dropped and counted."""
    return np.where((counts > 0) & (np.arange(counts.size) % 3 == 0), MaskReason.HOT, MaskReason.NONE).astype(np.uint8)


def _rewrite(group: h5py.Group, name: str, *, big_endian=False, ids_dtype=None, tof_chunks=None, **options) -> None:
    old = group[name]
    data, attrs = old[()], dict(old.attrs)
    if name == "event_id" and ids_dtype is not None:
        data = data.astype(ids_dtype)
    if big_endian:
        data = data.astype(data.dtype.newbyteorder(">"))
    if name == "event_time_offset" and tof_chunks is not None:
        options["chunks"] = tof_chunks
    if "chunks" in options:
        options["maxshape"] = (None,)  # chunks larger than a small (diagnostic) dataset
    del group[name]
    new = group.create_dataset(name, data=data, **options)
    new.attrs.update(attrs)


def write_layout(path: Path, layout: str, *, userblock: int = 0) -> Path:
    """The SNS-layout test file (a missing, an empty and an id-less bank, ids beyond the instrument,
    diagnostic groups, pulses) with its non-empty event datasets stored as ``layout``."""
    source = write_sns_file(path.with_suffix(".src.h5"), layout=Layout(mean_events_per_pulse=4.0)).path
    with h5py.File(source, "r") as src, h5py.File(path, "w", userblock_size=userblock or None) as f:
        for name in src:
            src.copy(src[name], f, name)
        for key, value in src.attrs.items():
            f.attrs[key] = value
        for group in f["entry"].values():
            if isinstance(group, h5py.Group) and "event_id" in group and group["event_id"].shape[0]:
                for field in ("event_id", "event_time_offset"):
                    _rewrite(group, field, **LAYOUTS[layout])
    return path


@pytest.fixture
def small_units(monkeypatch):
    """Units of ~150 events: many units per file, several per bank, some spanning banks."""
    monkeypatch.setattr(event_pass, "UNIT_EVENTS", 150)


@pytest.fixture
def via_h5py(monkeypatch):
    """Switch: ``via_h5py()`` makes every dataset read through h5py from then on."""
    def switch() -> None:
        monkeypatch.setattr(read, "dataset_reader", lambda ds, dtype: chunks.dataset_reader(ds, dtype).via_h5py_only())
    return switch


def _arrays(events) -> dict[str, np.ndarray | None]:
    return {"pixel": events.pixel, "tof_us": events.tof_us, "pulse_index": events.pulse_index,
            "pulse_time_s": events.pulse_time_s, "native_mask_reason": events.native_mask_reason}


def _assert_identical(a, b) -> None:
    for (name, x), y in zip(_arrays(a).items(), _arrays(b).values()):
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert a.metadata == b.metadata and a.lite == b.lite


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_chunk_path_decodes_exactly_the_layouts_it_can(tmp_path, layout):
    path = write_layout(tmp_path / "run.nxs.h5", layout)
    with h5py.File(path) as f:
        group = f["entry/bank11_events"]
        readers = [chunks.dataset_reader(group[name], dtype)
                   for name, dtype in (("event_id", np.uint32), ("event_time_offset", np.float32))]
    assert tuple(not r.via_h5py for r in readers) == DECODED.get(layout, (False, False))


@pytest.mark.parametrize("mode", ["native", "lite", "pulses", "screened", "one_pass"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_load_on_the_chunk_path_equals_the_h5py_path_bit_for_bit(tmp_path, monkeypatch, small_units, via_h5py,
                                                                 layout, mode):
    path = write_layout(tmp_path / "run.nxs.h5", layout)
    if mode == "screened":
        monkeypatch.setattr(load, "screen_native", screen_every_third)
    kw = dict(lite_requested=mode in ("lite", "one_pass"), with_pulses=mode in ("pulses", "one_pass"))
    if mode == "one_pass":  # no screening: the ids are read in the cropping pass, not before it
        kw["screen"] = ScreenSettings(screen=False)
    fast = load_event_file(path, **kw)
    with numba_threads(1):  # one worker thread: the same result
        serial = load_event_file(path, **kw)
    via_h5py()
    reference = load_event_file(path, **kw)
    _assert_identical(fast, reference)
    _assert_identical(serial, reference)
    assert fast.metadata.n_events_out_of_range == 7 and fast.n_events > 0
    if mode == "screened":
        assert fast.metadata.n_screened_events > 0  # events of screened pixels were dropped in the pass


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_raw_events_on_the_chunk_path_equal_the_h5py_path(tmp_path, small_units, via_h5py, layout):
    path = write_layout(tmp_path / "run.nxs.h5", layout)
    fast = read_raw_events(path, with_pulses=True)
    via_h5py()
    reference = read_raw_events(path, with_pulses=True)
    assert fast.event_id.tobytes() == reference.event_id.tobytes()
    assert fast.tof_us.tobytes() == reference.tof_us.tobytes() and fast.header == reference.header
    assert [p.bank for p in fast.pulses] == [p.bank for p in reference.pulses]


def test_a_lite_copy_loads_the_same_on_both_paths(tmp_path, small_units, via_h5py):
    native = load_event_file(write_layout(tmp_path / "run.nxs.h5", "shuffle_gzip"), lite_requested=False)
    lite_path = write_lite_file(native, tmp_path / "run.lite.nxs.h5")
    fast = load_event_file(lite_path, lite_requested=True)
    via_h5py()
    _assert_identical(fast, load_event_file(lite_path, lite_requested=True))


def test_a_file_with_a_user_block_reads_its_chunks_through_hdf5(tmp_path, small_units, via_h5py):
    path = write_layout(tmp_path / "run.nxs.h5", "shuffle_gzip", userblock=512)
    fast = load_event_file(path, lite_requested=False, with_pulses=True)
    via_h5py()
    _assert_identical(fast, load_event_file(path, lite_requested=False, with_pulses=True))


def test_a_chunk_stored_without_its_deflate_is_decoded(tmp_path, small_units, via_h5py):
    path = write_layout(tmp_path / "run.nxs.h5", "shuffle_gzip")
    with h5py.File(path, "a") as f:  # chunk 1 of bank11's ids: shuffled only (filter mask: deflate, filter 1, skipped)
        ds = f["entry/bank11_events/event_id"]
        values = ds[97:194].astype("<u4")
        ds.id.write_direct_chunk((97,), values.view(np.uint8).reshape(-1, 4).T.tobytes(), filter_mask=0b10)
    fast = read_raw_events(path)
    via_h5py()
    reference = read_raw_events(path)
    assert fast.event_id.tobytes() == reference.event_id.tobytes()


def test_a_damaged_chunk_in_the_middle_is_a_corrupt_file_and_stops_every_worker(tmp_path, monkeypatch, small_units):
    path = write_layout(tmp_path / "run.nxs.h5", "shuffle_gzip")
    with h5py.File(path) as f:
        info = f["entry/bank33_events/event_time_offset"].id.get_chunk_info(1)
    data = bytearray(path.read_bytes())
    data[info.byte_offset : info.byte_offset + info.size] = b"\x00" * info.size
    path.write_bytes(bytes(data))
    monkeypatch.setattr(load, "screen_native", screen_every_third)
    for kw in (dict(lite_requested=True), dict(lite_requested=False, screen=ScreenSettings(screen=False))):
        with pytest.raises(CorruptFileError, match=r"cannot read event file .*run\.nxs\.h5.*bank33_events"):
            load_event_file(path, **kw)
    with pytest.raises(CorruptFileError, match="run.nxs.h5"):
        read_raw_events(path)


def test_pieces_follow_the_chunks_and_units_cover_every_event_once(tmp_path, small_units):
    path = write_layout(tmp_path / "run.nxs.h5", "unlike_chunks")
    with read.event_source(path) as source:
        pieces = [(bank.first_event + p.start, p.n) for bank, p in event_pass.iter_pieces(source.banks)]
        assert all(p.start % 97 == 0 and p.n <= 97 for _, p in event_pass.iter_pieces(source.banks))
        n_events = source.header.n_events
    starts, sizes = np.array(pieces).T
    assert starts[0] == 0 and np.array_equal(starts[1:], np.cumsum(sizes)[:-1]) and sizes.sum() == n_events


def test_state_and_event_readers_import_without_a_circle():
    code = ("import sys, snapcal_core.data.state as s; assert 'snapcal_core.data.read' not in sys.modules; "
            "import snapcal_core.data.read as r; assert r.open_event_file is s.open_event_file")
    subprocess.run([sys.executable, "-c", code], check=True)
