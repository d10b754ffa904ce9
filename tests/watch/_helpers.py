"""Helpers of the watcher tests: a hand-moved clock, a recording callback, tiny raw files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snapcal_core.constants import N_NATIVE_PIXELS
from snapcal_core.data.locate import raw_file_path
from snapcal_core.data.nexus import EventFileWriter
from snapcal_core.data.state import state_logs
from snapcal_core.watch import Acquisition
from tests.data.conftest import REFERENCE_STATE

SIM_RUN, SIM_IPTS = 58810, 33219
#: The DAS logs of SNAP's reference state: a calibrant run must have them to be announced.
REFERENCE_LOGS = state_logs(REFERENCE_STATE)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """An ``announce`` callback that records acquisitions and raises for its first ``failures`` calls.

    ``refused_runs`` always raise (a run the server keeps refusing); ``attempted`` holds every call.
    """

    def __init__(self, failures: int = 0, refused_runs: tuple[int, ...] = ()) -> None:
        self.failures = failures
        self.refused_runs = refused_runs
        self.calls = 0
        self.attempted: list[Acquisition] = []
        self.received: list[Acquisition] = []

    def __call__(self, acquisition: Acquisition) -> None:
        self.calls += 1
        self.attempted.append(acquisition)
        if self.calls <= self.failures or acquisition.run_number in self.refused_runs:
            raise RuntimeError(f"flow server unreachable (call {self.calls})")
        self.received.append(acquisition)


def write_run(root: Path, *, run: int, ipts: int = 7, title: str = "Vanadium rod", n: int = 200) -> Path:
    """A tiny complete native event file ``SNAP_<run>.nxs.h5`` with ``title`` in the facility tree."""
    rng = np.random.default_rng(run)
    path = raw_file_path(root, ipts=ipts, run_number=run)
    with EventFileWriter(path, run_number=run, title=title, start_time="2026-01-01T00:00:00", duration_s=1.0,
                         proton_charge=1.0, das_logs=REFERENCE_LOGS, compression=None) as writer:
        writer.append(rng.integers(0, N_NATIVE_PIXELS, n).astype(np.uint32), rng.uniform(1e3, 1e4, n))
    return path
