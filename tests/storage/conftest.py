import numpy as np
import pytest

from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.models import DetectorState
from snapcal_core.storage.models import SaveRequest

STATE = DetectorState(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), wavelength_angstrom=2.1, frequency_hz=60, guide=1)
SID = STATE.state_id()


def small_table(seed: int, n: int = 300) -> DiffCalTable:
    rng = np.random.default_rng(seed)
    t = DiffCalTable.from_difc(rng.uniform(3000, 7000, n), group=rng.integers(1, 7, n).astype(np.int32))
    t.use[rng.integers(0, n, 5)] = 0
    return t


def request(run=58810, **kw) -> SaveRequest:
    fields = dict(run_number=run, state=STATE, lite=True, author="alice", calibrant="diamond", grouping="Column",
                  group_metrics=[{"group_id": 1, "sigma_mean": 0.002}], iterations=[{"iteration": 1}])
    fields.update(kw)
    return SaveRequest(**fields)


@pytest.fixture
def home(tmp_path):
    return tmp_path / "calibration"
