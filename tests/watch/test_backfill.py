"""The first start on an existing tree: existing runs recorded (default) or backfilled, corrupt files skipped."""

from __future__ import annotations

import os
import time
from pathlib import Path

import h5py
import numpy as np

from snapcal_core.data.locate import raw_file_path
from snapcal_core.data.nexus import EventFileWriter
from snapcal_core.watch import watcher as watcher_module
from tests.watch._helpers import SIM_RUN, Recorder, write_run

DAY_S = 86_400.0


def age(path: Path, seconds: float) -> Path:
    """Make ``path`` look last changed ``seconds`` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def settle(watcher, clock) -> list:
    assert watcher.scan_once() == []
    clock.advance(watcher.settle_s)
    return watcher.scan_once()


def garbage_run(root: Path, run: int) -> Path:
    path = raw_file_path(root, ipts=7, run_number=run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not hdf5 " * 100)
    return path


def damage_a_chunk(path: Path) -> Path:
    """Overwrite one compressed chunk of bank63's TOFs: the file opens, its header reads, its events do not."""
    with h5py.File(path) as f:
        info = f["entry/bank63_events/event_time_offset"].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    data[info.byte_offset : info.byte_offset + info.size] = b"\xff" * info.size
    path.write_bytes(bytes(data))
    return path


def run_without_state_logs(root: Path, run: int) -> Path:
    path = raw_file_path(root, ipts=7, run_number=run)
    with EventFileWriter(path, run_number=run, title="Diamond", start_time="2026-01-01T00:00:00", duration_s=1.0,
                         proton_charge=1.0, das_logs={}, compression=None) as writer:
        writer.append(np.arange(5, dtype=np.uint32), np.full(5, 5000.0))
    return path


def test_first_start_records_the_runs_already_there_and_announces_only_new_ones(make_watcher, data_root, clock,
                                                                                monkeypatch) -> None:
    age(write_run(data_root, run=1, title="Diamond"), DAY_S)
    age(garbage_run(data_root, 2), DAY_S)
    write_run(data_root, run=3, title="Diamond")  # finished a moment ago: a new run
    reads = []
    real_read = watcher_module.read_identity
    monkeypatch.setattr(watcher_module, "read_identity", lambda path: reads.append(path.name) or real_read(path))
    recorder = Recorder()
    watcher = make_watcher(recorder)
    assert [a.run_number for a in settle(watcher, clock)] == [3]
    assert sorted(watcher.existing) == [1, 2] and reads == ["SNAP_3.nxs.h5"]  # existing files are never read
    write_run(data_root, run=4, title="Silicon NIST 640d")
    restarted = make_watcher(recorder)
    assert [a.run_number for a in settle(restarted, clock)] == [4]
    assert [a.run_number for a in recorder.received] == [3, 4]


def test_a_first_start_on_an_empty_tree_is_remembered(make_watcher, data_root, clock, tmp_path) -> None:
    make_watcher().scan_once()
    assert (tmp_path / "state" / "watch.json").is_file()
    age(write_run(data_root, run=5, title="Diamond"), DAY_S)  # copied in later with its old mtime (rsync -a)
    assert [a.run_number for a in settle(make_watcher(), clock)] == [5]


def test_backfill_announces_existing_runs_and_skips_the_corrupt_ones(make_watcher, data_root, place_diamond, clock,
                                                                   caplog) -> None:
    age(write_run(data_root, run=1, title="Diamond"), DAY_S)
    age(garbage_run(data_root, 2), DAY_S)
    age(run_without_state_logs(data_root, 3), DAY_S)
    age(damage_a_chunk(place_diamond()), DAY_S)
    age(write_run(data_root, run=4, title="Vanadium rod"), DAY_S)
    recorder = Recorder()
    watcher = make_watcher(recorder, backfill=True)
    assert [a.run_number for a in settle(watcher, clock)] == [1]
    assert sorted(watcher.rejected) == [2, 3, SIM_RUN] and list(watcher.ignored) == [4]
    assert "bank63_events" in watcher.rejected[SIM_RUN].reason and "det_arc1" in watcher.rejected[3].reason
    assert caplog.text.count("is corrupt and will not be calibrated") == 3
    clock.advance(60)
    caplog.clear()
    restarted = make_watcher(recorder, backfill=True)
    assert settle(restarted, clock) == [] and "corrupt" not in caplog.text  # reported once, not read again
    assert [a.run_number for a in recorder.received] == [1]


def test_a_rejected_file_is_looked_at_again_once_it_changes(make_watcher, data_root, place_diamond, clock) -> None:
    age(damage_a_chunk(place_diamond()), DAY_S)
    recorder = Recorder()
    watcher = make_watcher(recorder, backfill=True)
    assert settle(watcher, clock) == [] and list(watcher.rejected) == [SIM_RUN]
    place_diamond()  # the run is copied again, intact
    assert [a.run_number for a in settle(watcher, clock)] == [SIM_RUN]
    assert watcher.rejected == {} and list(watcher.announced) == [SIM_RUN]


def test_a_fresh_unreadable_file_is_retried_not_rejected(make_watcher, data_root, clock) -> None:
    path = garbage_run(data_root, 6)
    watcher = make_watcher(corrupt_after_s=600)
    assert settle(watcher, clock) == [] and watcher.rejected == {}
    age(path, 601)  # still unreadable ten minutes after its last change: corrupt
    assert settle(watcher, clock) == [] and list(watcher.rejected) == [6]


def test_backfill_on_a_later_start_announces_the_runs_recorded_as_existing(make_watcher, data_root, clock) -> None:
    age(write_run(data_root, run=8, title="CeO2"), DAY_S)
    assert settle(make_watcher(), clock) == []
    assert settle(make_watcher(), clock) == []  # restarted without backfill: still existing
    backfilling = make_watcher(backfill=True)
    assert [a.sample for a in settle(backfilling, clock)] == ["ceria"] and backfilling.existing == {}
