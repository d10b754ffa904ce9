"""Small tables and save requests shared by the storage tests (importable by child processes)."""

from __future__ import annotations

import numpy as np

from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.models import DetectorState
from snapcal_core.storage.models import SaveRequest

STATE = DetectorState(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), wavelength_angstrom=2.1, frequency_hz=60, guide=1)
SID = STATE.state_id()
SNAPRED_INDEX_FIELDS = {"runNumber", "useLiteMode", "version", "appliesTo", "comments", "author", "timestamp"}


def small_table(seed: int, n: int = 300) -> DiffCalTable:
    """A seeded Lite-compatible table of ``n`` pixels with random DIFC, DIFA, TZERO, groups and 5 masked."""
    rng = np.random.default_rng(seed)
    t = DiffCalTable.from_difc(rng.uniform(3000, 7000, n), group=rng.integers(1, 7, n).astype(np.int32))
    t.difa[:] = rng.normal(0, 1, n)
    t.tzero[:] = rng.normal(0, 2, n)
    t.use[rng.integers(0, n, 5)] = 0
    return t


def request(run: int = 58810, **kw) -> SaveRequest:
    fields = dict(run_number=run, state=STATE, lite=True, author="alice", calibrant="diamond", grouping="Column",
                  group_metrics=[{"group_id": 1, "sigma_mean": 0.002, "n_peaks_fitted": 7,
                                  "relative_strain_ppm_mean": -12.0}],
                  iterations=[{"iteration": 1, "median_shift_ppm": 3.5}])
    fields.update(kw)
    return SaveRequest(**fields)


def assert_tables_equal(a: DiffCalTable, b: DiffCalTable) -> None:
    for name in ("detid", "difc", "difa", "tzero", "group", "use"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
