"""Watcher.run in a thread: wakes up on a new file, announces it once, and stops on its Event."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from snapcal_core.watch import CalibrantRules, Watcher
from tests.watch._helpers import Recorder, write_run


def wait_for(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@contextmanager
def running(watcher: Watcher, *, poll_s: float):
    """``watcher.run`` in a thread for the block; it must return once stop is set."""
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, kwargs=dict(stop=stop, poll_s=poll_s), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive(), "run() did not return after stop was set"


def test_run_announces_a_file_created_after_it_started(data_root: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    watcher = Watcher(data_root, CalibrantRules(), tmp_path / "watch.json", recorder, settle_s=0.2)
    with running(watcher, poll_s=0.1):
        time.sleep(0.3)  # the watcher is up and has scanned an empty tree
        assert recorder.calls == 0
        write_run(data_root, run=58811, ipts=4, title="Silicon NIST 640d")
        assert wait_for(lambda: recorder.received, timeout_s=10), "no announcement within 10 s"
        time.sleep(0.5)  # further wake-ups must not announce it again
    assert [(a.run_number, a.sample) for a in recorder.received] == [(58811, "silicon")]


def test_run_waits_for_a_missing_root_and_stops(tmp_path: Path) -> None:
    root = tmp_path / "not_yet"
    recorder = Recorder()
    watcher = Watcher(root, CalibrantRules(), tmp_path / "watch.json", recorder, settle_s=0.1)
    with running(watcher, poll_s=0.05):
        time.sleep(0.2)
        write_run(root, run=3, title="diamond")
        assert wait_for(lambda: recorder.received, timeout_s=10)


def test_watch_package_does_not_import_prefect() -> None:
    code = "import sys, snapcal_core.watch; sys.exit('prefect' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
