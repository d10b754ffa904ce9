"""Helpers of the watcher tests: a hand-moved clock, a recording callback, tiny raw files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snapcal_core.constants import N_NATIVE_PIXELS
from snapcal_core.data.locate import raw_file_path
from snapcal_core.data.nexus import EventFileWriter
from snapcal_core.watch import Acquisition

SIM_RUN, SIM_IPTS = 58810, 33219


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """An ``announce`` callback that records acquisitions and raises for its first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.received: list[Acquisition] = []

    def __call__(self, acquisition: Acquisition) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"flow server unreachable (call {self.calls})")
        self.received.append(acquisition)


def write_run(root: Path, *, run: int, ipts: int = 7, title: str = "Vanadium rod", n: int = 200) -> Path:
    """A tiny complete native event file ``SNAP_<run>.nxs.h5`` with ``title`` in the facility tree."""
    rng = np.random.default_rng(run)
    path = raw_file_path(root, ipts=ipts, run_number=run)
    with EventFileWriter(path, run_number=run, title=title, start_time="2026-01-01T00:00:00", duration_s=1.0,
                         proton_charge=1.0, das_logs={}, compression=None) as writer:
        writer.append(rng.integers(0, N_NATIVE_PIXELS, n).astype(np.uint32), rng.uniform(1e3, 1e4, n))
    return path
