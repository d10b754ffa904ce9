"""Concurrency and crash safety of the store (multiple processes, SIGKILL at random points)."""

import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from snapcal_core.storage.paths import diffraction_dir, existing_versions
from snapcal_core.storage.reconcile import _valid_record, reconcile
from snapcal_core.storage.store import list_versions, load_version, save_calibration
from tests.storage.conftest import SID, request, small_table

pytestmark = pytest.mark.slow


def _writer(home: str, worker: int, n: int, queue) -> None:
    for i in range(n):
        seed = worker * 1000 + i
        saved = save_calibration(Path(home), request(run=1000 + seed, comments=f"seed {seed}"), small_table(seed))
        queue.put((saved.version, seed))


def test_eight_processes_saving_25_each_get_200_contiguous_versions(home):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(home), w, 25, queue)) for w in range(8)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in range(200)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    versions = sorted(v for v, _ in results)
    assert versions == list(range(1, 201))
    entries = list_versions(home, SID, lite=True)
    assert [e.version for e in entries] == list(range(0, 201))
    for version, seed in results:
        loaded = load_version(home, SID, lite=True, version=version)
        np.testing.assert_array_equal(loaded.table.difc, small_table(seed).difc)
        assert loaded.record.indexEntry.comments == f"seed {seed}"


WRITER = """
import sys
from pathlib import Path
from snapcal_core.storage.store import save_calibration
from tests.storage.conftest import request, small_table
home, start, n = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(start, start + n):
    save_calibration(home, request(run=5000 + i), small_table(i))
    print(i, flush=True)
"""


def _check_consistent(home: Path):
    directory = diffraction_dir(home, SID, lite=True)
    for version in existing_versions(directory):  # every visible v_* folder is complete, even before reconcile
        _valid_record(directory / f"v_{version:04d}")
    report = reconcile(directory)
    assert not list(directory.glob(".tmp_v_*"))
    listed = [e.version for e in list_versions(home, SID, lite=True)]
    assert listed == existing_versions(directory)
    for version in listed:
        load_version(home, SID, lite=True, version=version)
    return report


def _run_writer(home: Path, start: int, n: int, *, kill_after: float | None, fault: str | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    if fault:
        env["SNAPCAL_STORE_FAULT"] = fault
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(home), str(start), str(n)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if kill_after is not None:
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=120)


def test_writer_killed_at_random_points_during_50_saves_leaves_a_consistent_store(home):
    rng = random.Random(1234)
    save_calibration(home, request(run=4999), small_table(4999))  # state initialised, numba/h5py warm on disk
    done = 0
    while done < 50:
        n = min(10, 50 - done)
        _run_writer(home, done, n, kill_after=rng.uniform(1.0, 3.0))
        _check_consistent(home)
        done += n
    for fault, expect in (("before_record", "removed_temporary"), ("before_rename", "removed_temporary"),
                          ("before_index", "added_entries")):
        _run_writer(home, 100, 1, kill_after=None, fault=fault)
        report = _check_consistent(home)
        assert getattr(report, expect), (fault, report)
    versions = [e.version for e in list_versions(home, SID, lite=True)]
    assert versions == list(range(0, len(versions)))  # contiguous after all the crashes
