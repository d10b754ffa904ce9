"""Concurrency and crash safety: 8 writers at once, SIGKILL at every checkpoint and at random times."""

import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path

import pytest

from snapcal_core.errors import StorageError
from snapcal_core.storage.atomic import DiffractionLock, set_checkpoint_hook
from snapcal_core.storage.paths import diffraction_dir, existing_versions
from snapcal_core.storage.reconcile import reconcile, valid_record
from snapcal_core.storage.store import list_versions, load_version, save_calibration
from tests.storage._helpers import SID, assert_tables_equal, request, small_table

FORK = mp.get_context("fork")  # children start warm (imports done) so kills land inside saves


def _save(home: Path, seed: int):
    return save_calibration(home, request(run=1000 + seed, comments=f"seed {seed}"), small_table(seed))


def _seed_of(home: Path, version: int) -> int:
    return int(load_version(home, SID, lite=True, version=version).record.indexEntry.comments.split()[1])


def _writer(home: str, worker: int, n: int, queue) -> None:
    for i in range(n):
        queue.put((_save(Path(home), worker * 1000 + i).version, worker * 1000 + i))


@pytest.mark.slow
def test_eight_processes_saving_25_each_get_200_distinct_contiguous_versions(home):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(home), w, 25, queue)) for w in range(8)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in range(200)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(v for v, _ in results) == list(range(1, 201))
    entries = list_versions(home, SID, lite=True)
    assert [e.version for e in entries] == list(range(0, 201))
    for version, seed in results:
        loaded = load_version(home, SID, lite=True, version=version)
        assert_tables_equal(loaded.table, small_table(seed))
        assert loaded.record.indexEntry.comments == f"seed {seed}" == entries[version].comments
    assert reconcile(diffraction_dir(home, SID, lite=True)).lines() == ["consistent"]


def _check_store(home: Path, validated: set[int]) -> None:
    """What must hold right after a crash, before any repair: the lock is free, the index reads, and
    every visible ``v_*`` folder is complete; then reconcile makes index and folders agree."""
    directory = diffraction_dir(home, SID, lite=True)
    with DiffractionLock(directory, timeout_s=5):  # a killed holder does not block
        pass
    listed_before = {e.version for e in list_versions(home, SID, lite=True)}
    for version in set(existing_versions(directory)) - validated:
        valid_record(directory / f"v_{version:04d}")
    assert listed_before <= set(existing_versions(directory))
    reconcile(directory)
    assert not list(directory.glob(".tmp_v_*")) and not list(directory.glob(".*.tmp"))
    listed = [e.version for e in list_versions(home, SID, lite=True)]
    assert listed == existing_versions(directory) == list(range(len(listed)))  # agree and contiguous
    for version in set(listed) - validated - {0}:
        assert_tables_equal(load_version(home, SID, lite=True, version=version).table,
                            small_table(_seed_of(home, version)))
        validated.add(version)


def _die_at(k: int):
    calls = []

    def hook(name: str) -> None:
        calls.append(name)
        if len(calls) == k:
            os.kill(os.getpid(), signal.SIGKILL)
    return hook


def _save_killed_at(home: Path, seed: int, k: int) -> None:
    set_checkpoint_hook(_die_at(k))
    _save(home, seed)
    os._exit(0)


def test_a_writer_killed_at_every_checkpoint_leaves_no_partial_version(home):
    names = []
    set_checkpoint_hook(names.append)
    try:
        _save(home, 0)
    finally:
        set_checkpoint_hook(None)
    assert {"locked", "table_written", "record_written", "renamed", "CalibrationIndex.json:temp_written",
            "CalibrationIndex.json:replaced", "indexed"} <= set(names)
    validated: set[int] = set()
    for k, name in enumerate(names, start=1):
        before = existing_versions(diffraction_dir(home, SID, lite=True))
        child = FORK.Process(target=_save_killed_at, args=(home, k, k))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == -signal.SIGKILL, name
        _check_store(home, validated)
        published = existing_versions(diffraction_dir(home, SID, lite=True))[len(before):]
        expect_published = k > names.index("record_written") + 1  # killed at or after the rename
        assert bool(published) == expect_published, name
        if published:
            assert _seed_of(home, published[0]) == k
    assert save_calibration(home, request(), small_table(99)).version == len(validated) + 1


def _save_forever(home: Path, first_seed: int, started, finished) -> None:
    seed = first_seed
    while True:
        started.value = seed
        _save(home, seed)
        finished.value = seed
        seed += 1


def test_a_writer_killed_at_random_times_during_50_saves_leaves_a_consistent_store(home):
    rng = random.Random(1234)
    t0 = time.perf_counter()
    for seed in range(3):
        _save(home, 10_000 + seed)
    save_s = (time.perf_counter() - t0) / 3
    validated: set[int] = set()
    interrupted = completed = 0
    for kill in range(50):
        started, finished = FORK.Value("q", -1), FORK.Value("q", -1)
        child = FORK.Process(target=_save_forever, args=(home, 100 * kill, started, finished))
        child.start()
        deadline = time.monotonic() + 30
        while started.value < 0 and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(rng.uniform(0.0, 4.0 * save_s))
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
        assert child.exitcode == -signal.SIGKILL
        interrupted += started.value != finished.value
        completed += max(0, finished.value - 100 * kill + 1)
        _check_store(home, validated)
    print(f"{interrupted} of 50 kills interrupted a save; {completed} saves completed; save {1e3 * save_s:.0f} ms")
    assert interrupted >= 40, f"only {interrupted} of 50 kills landed inside a save"
    assert completed >= 5, f"only {completed} saves completed between the kills"
    listed = list_versions(home, SID, lite=True)
    assert [e.version for e in listed] == list(range(len(listed))) and len(listed) >= 3 + completed


def _hold_lock(directory: Path, held) -> None:
    with DiffractionLock(directory):
        held.set()
        time.sleep(600)


def test_a_lock_holder_killed_with_sigkill_does_not_block_the_next_writer(home):
    directory = diffraction_dir(home, SID, lite=True)
    held = FORK.Event()
    child = FORK.Process(target=_hold_lock, args=(directory, held))
    child.start()
    assert held.wait(30)
    with pytest.raises(StorageError, match="could not lock"):
        with DiffractionLock(directory, timeout_s=0.2):
            pass
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    t0 = time.perf_counter()
    assert _save(home, 1).version == 1
    assert time.perf_counter() - t0 < 5
