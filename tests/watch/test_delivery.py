"""At-least-once delivery on a fake clock: pending before announced, bounded backoff, never lost, never twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapcal_core.watch import Backoff, DeliveryQueue, announcement_id
from tests.watch._helpers import Recorder, write_run


def test_backoff_doubles_from_one_second_and_is_capped_at_five_minutes() -> None:
    backoff = Backoff()
    assert [backoff.delay_s(n) for n in range(11)] == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert backoff.delay_s(10_000) == 300  # a server down for days: no overflow, still bounded


@pytest.mark.parametrize("bad", [dict(first_s=0), dict(factor=0.5), dict(first_s=10, max_s=5)])
def test_backoff_refuses_schedules_that_do_not_back_off(bad: dict) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**bad)


def test_a_failure_closes_the_gate_for_every_run_and_a_success_reopens_it() -> None:
    queue = DeliveryQueue(Backoff(first_s=1, factor=2, max_s=8))
    assert queue.due([3, 1, 2], now_s=0) == [1, 2, 3]
    assert queue.failed(1, now_s=0) == 1
    assert queue.due([1, 2, 3], now_s=0.5) == []  # the server is down: nobody tries
    assert queue.due([1, 2, 3], now_s=1) == [2, 3, 1]  # fewest failures first
    assert queue.failed(2, now_s=1) == 2  # two failures in a row: 2 s
    assert queue.due([1, 2, 3], now_s=2.9) == []
    assert queue.due([1, 2, 3], now_s=3) == [3, 1, 2]
    queue.delivered(3)
    assert queue.due([1, 2], now_s=3) == [1, 2]  # the gate is open again at once


def test_a_run_the_server_keeps_refusing_does_not_hold_up_the_others() -> None:
    queue = DeliveryQueue(Backoff(first_s=1, factor=2, max_s=60))
    queue.failed(1, now_s=0)  # run 1 refused (say, a payload the server rejects)
    assert queue.due([1, 2], now_s=1) == [2, 1]
    queue.delivered(2)
    queue.failed(1, now_s=1)
    assert queue.due([1, 3], now_s=2) == [3]  # the gate reopens after 1 s, run 1 waits 2 s
    assert queue.due([1, 3], now_s=3) == [3, 1]
    assert queue.failures(1) == 2


def test_watcher_delivers_the_other_runs_past_a_refused_one(make_watcher, data_root, clock) -> None:
    for run in (41, 42):
        write_run(data_root, run=run, title="Diamond")
    recorder = Recorder(refused_runs=(41,))
    watcher = make_watcher(recorder)
    assert _settle(watcher, clock) == []  # 41 first, refused: the gate closes for 1 s
    clock.advance(1)
    assert [a.run_number for a in watcher.scan_once()] == [42]
    assert list(watcher.pending) == [41] and list(watcher.announced) == [42]


def test_announcement_id_is_stable_and_names_the_file_version() -> None:
    kw = dict(run_number=7, path=Path("/data/SNAP/IPTS-1/nexus/SNAP_7.nxs.h5"), size_bytes=100, mtime_ns=5)
    assert announcement_id(**kw) == announcement_id(**kw)
    assert announcement_id(**kw) != announcement_id(**{**kw, "mtime_ns": 6})
    assert announcement_id(**kw).version == 5


def _settle(watcher, clock) -> list:
    assert watcher.scan_once() == []
    clock.advance(watcher.settle_s)
    return watcher.scan_once()


def test_server_down_then_up_delivers_every_run_exactly_once(make_watcher, data_root, clock) -> None:
    for run in (11, 12, 13):
        write_run(data_root, run=run, title="Diamond")
    recorder = Recorder(failures=5)
    watcher = make_watcher(recorder)
    assert _settle(watcher, clock) == []
    assert sorted(watcher.pending) == [11, 12, 13]
    attempts = [recorder.calls]
    for _ in range(4):  # 1 + 2 + 4 + 8 s of backoff: one attempt per opening of the gate
        clock.advance(Backoff().delay_s(len(attempts)))
        assert watcher.scan_once() == []
        attempts.append(recorder.calls)
    assert attempts == [1, 2, 3, 4, 5] and watcher.announced == {}
    clock.advance(16)  # the server is back
    delivered = watcher.scan_once()
    assert sorted(a.run_number for a in delivered) == [11, 12, 13]
    clock.advance(3600)
    assert watcher.scan_once() == [] and watcher.pending == {}
    assert sorted(a.run_number for a in recorder.received) == [11, 12, 13]
    assert all(a.event_id is not None for a in recorder.received)


def test_a_pending_run_survives_a_restart_and_keeps_its_event_id(make_watcher, data_root, clock, tmp_path) -> None:
    write_run(data_root, run=21, title="Silicon NIST 640d")
    down = Recorder(failures=1)
    assert _settle(make_watcher(down), clock) == []
    stored = json.loads((tmp_path / "state" / "watch.json").read_text())
    assert list(stored["pending"]) == ["21"] and stored["announced"] == {}
    up = Recorder()
    restarted = make_watcher(up)  # a new process: pending runs are tried at once, nothing is read again
    assert [a.run_number for a in restarted.scan_once()] == [21]
    assert [a.event_id for a in up.received] == [down.attempted[0].event_id]
    assert restarted.scan_once() == [] and len(up.received) == 1


def test_a_crash_after_the_server_accepted_resends_the_same_event_id(make_watcher, data_root, clock,
                                                                     monkeypatch) -> None:
    from snapcal_core.watch import watcher as watcher_module

    write_run(data_root, run=31, title="CeO2")
    first = Recorder()
    watcher = make_watcher(first)
    real_save = watcher_module.save_state

    def crash_after_acceptance(path, state):
        if 31 in state.announced:
            raise SystemExit("killed between the server's 204 and the state write")
        real_save(path, state)

    monkeypatch.setattr(watcher_module, "save_state", crash_after_acceptance)
    with pytest.raises(SystemExit):
        _settle(watcher, clock)
    monkeypatch.setattr(watcher_module, "save_state", real_save)
    again = Recorder()
    assert [a.run_number for a in make_watcher(again).scan_once()] == [31]
    assert again.received[0].event_id == first.received[0].event_id  # the server drops the repeat
