"""scan_once on a fake clock: settle, completeness, classification, idempotence, retries."""

from __future__ import annotations

import json

import pytest

from snapcal_core.data.locate import raw_file_path
from snapcal_core.watch import CalibrantRules, Watcher, WatchStateError
from snapcal_core.watch import watcher as watcher_module
from tests.watch._helpers import SIM_IPTS, SIM_RUN, FakeClock, Recorder, write_run


def settle(watcher: Watcher, clock: FakeClock) -> list:
    """First sight, then a scan once the settle time has passed; returns what the second scan announced."""
    assert watcher.scan_once() == []
    clock.advance(watcher.settle_s)
    return watcher.scan_once()


def test_complete_simulated_calibrant_is_announced_once(make_watcher, place_diamond, clock) -> None:
    path = place_diamond()
    recorder = Recorder()
    watcher = make_watcher(recorder)
    announced = settle(watcher, clock)
    assert [a.run_number for a in announced] == [SIM_RUN]
    acquisition = announced[0]
    assert (acquisition.ipts, acquisition.path, acquisition.sample) == (SIM_IPTS, path, "diamond")
    assert acquisition.title.startswith("Diamond calibrant")
    assert (acquisition.grouping, acquisition.lite, acquisition.size_bytes) == ("Column", True, path.stat().st_size)
    assert acquisition.detected_at.tzinfo is not None
    clock.advance(60)
    assert watcher.scan_once() == [] and watcher.scan_once() == []
    assert recorder.received == [acquisition]


def test_announced_run_is_not_announced_again_after_a_restart(make_watcher, place_diamond, clock, tmp_path) -> None:
    place_diamond()
    first = make_watcher(Recorder())
    announced = settle(first, clock)
    recorder = Recorder()
    second = make_watcher(recorder)  # a new process reading the same state file
    assert settle(second, clock) == [] and recorder.calls == 0
    assert second.announced == {SIM_RUN: announced[0]}
    stored = json.loads((tmp_path / "state" / "watch.json").read_text())
    assert list(stored["announced"]) == [str(SIM_RUN)]


def test_file_is_not_announced_before_it_has_settled(make_watcher, place_diamond, clock) -> None:
    place_diamond()
    watcher = make_watcher()
    assert watcher.scan_once() == []
    clock.advance(9.9)
    assert watcher.scan_once() == []
    clock.advance(0.1)
    assert len(watcher.scan_once()) == 1


def test_truncated_file_is_retried_and_announced_once_complete(make_watcher, place_diamond, simulated_diamond,
                                                              clock) -> None:
    place_diamond(n_bytes=simulated_diamond.stat().st_size // 2)
    recorder = Recorder()
    watcher = make_watcher(recorder)
    assert settle(watcher, clock) == []  # settled but unreadable: no exception, no announcement
    clock.advance(30)
    assert watcher.scan_once() == [] and recorder.calls == 0
    place_diamond()  # the rest of the bytes arrive
    assert watcher.scan_once() == []  # changed: settles again
    clock.advance(10)
    assert [a.run_number for a in watcher.scan_once()] == [SIM_RUN]
    assert recorder.calls == 1


def test_growing_file_is_not_announced_while_it_grows(make_watcher, place_diamond, simulated_diamond, clock) -> None:
    size = simulated_diamond.stat().st_size
    watcher = make_watcher()
    for fraction in (0.25, 0.5, 0.75):
        place_diamond(n_bytes=int(size * fraction))
        assert watcher.scan_once() == []
        clock.advance(11)  # more than settle_s between scans, but the file changed in between
    place_diamond()
    assert watcher.scan_once() == []
    clock.advance(10)
    assert len(watcher.scan_once()) == 1


def test_non_calibrant_run_is_not_announced_nor_read_again(make_watcher, data_root, clock, monkeypatch) -> None:
    write_run(data_root, run=101, title="Vanadium rod 6 mm")
    recorder = Recorder()
    watcher = make_watcher(recorder)
    assert settle(watcher, clock) == [] and recorder.calls == 0
    assert list(watcher.ignored) == [101]
    reads = []
    monkeypatch.setattr(watcher_module, "read_identity", lambda path: reads.append(path) or (101, "?"))
    clock.advance(60)
    assert watcher.scan_once() == []
    assert settle(make_watcher(recorder), clock) == []  # nor after a restart
    assert reads == [] and recorder.calls == 0


def test_ignored_run_is_announced_when_the_rules_now_name_it(make_watcher, data_root, clock) -> None:
    write_run(data_root, run=101, title="Vanadium rod 6 mm")
    settle(make_watcher(), clock)
    restarted = make_watcher(rules=CalibrantRules(runs={101: "silicon"}))
    announced = settle(restarted, clock)
    assert [(a.run_number, a.sample) for a in announced] == [(101, "silicon")]
    assert restarted.ignored == {}


def test_failing_callback_is_retried_with_backoff_and_announces_once(make_watcher, place_diamond, clock,
                                                                     caplog) -> None:
    place_diamond()
    recorder = Recorder(failures=2)
    watcher = make_watcher(recorder)
    assert settle(watcher, clock) == []
    assert "retrying in 1 s" in caplog.text
    assert list(watcher.pending) == [SIM_RUN] and watcher.announced == {}
    assert watcher.scan_once() == [] and recorder.calls == 1  # not due yet: backoff 1 s
    clock.advance(1)
    assert watcher.scan_once() == [] and recorder.calls == 2
    assert "retrying in 2 s" in caplog.text
    clock.advance(1.9)
    assert watcher.scan_once() == [] and recorder.calls == 2
    clock.advance(0.1)
    assert len(watcher.scan_once()) == 1
    assert watcher.scan_once() == [] and watcher.pending == {}
    assert (recorder.calls, len(recorder.received)) == (3, 1)


def test_only_raw_files_in_ipts_nexus_folders_are_considered(make_watcher, data_root, clock) -> None:
    nexus = raw_file_path(data_root, ipts=7, run_number=1).parent
    for name in ("SNAP_2.truth.h5", ".SNAP_3.nxs.h5.123.abcd.partial", "SNAP_4.lite.nxs.h5", "SNAP_x.nxs.h5"):
        write_run(data_root, run=5, title="Diamond").rename(nexus / name)
    lite = data_root / "SNAP" / "IPTS-7" / "shared" / "lite" / "SNAP_6.nxs.h5"
    lite.parent.mkdir(parents=True)
    write_run(data_root, run=6, title="Diamond").rename(lite)
    write_run(data_root, run=8, ipts=9, title="Silicon NIST 640d")
    recorder = Recorder()
    assert [a.run_number for a in settle(make_watcher(recorder), clock)] == [8]


def test_root_may_be_the_snap_folder(data_root, tmp_path, clock) -> None:
    write_run(data_root, run=8, title="CeO2")
    watcher = Watcher(data_root / "SNAP", CalibrantRules(), tmp_path / "w.json", Recorder(), clock=clock)
    assert [a.sample for a in settle(watcher, clock)] == ["ceria"]


def test_run_number_that_disagrees_with_the_file_name_is_not_announced(make_watcher, data_root, clock) -> None:
    path = write_run(data_root, run=8, title="Diamond")
    path.rename(path.with_name("SNAP_9.nxs.h5"))
    watcher = make_watcher()
    assert settle(watcher, clock) == [] and watcher.announced == {}


def test_malformed_state_file_is_a_typed_error_naming_it(data_root, tmp_path) -> None:
    state = tmp_path / "watch.json"
    state.write_text("{not json")
    with pytest.raises(WatchStateError, match=str(state)):
        Watcher(data_root, CalibrantRules(), state, Recorder())
