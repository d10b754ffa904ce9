import numpy as np
import pytest

from snapcal_core.data.nexus import EventFileWriter
from snapcal_core.data.state import state_logs
from snapcal_core.models import DetectorState

REFERENCE_STATE = DetectorState(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), wavelength_angstrom=2.1,
                                frequency_hz=60, guide=1)


def write_run(root, run=101, ipts=7, n=5000, seed=0, logs=None, tof_range=(5000.0, 15000.0)):
    """A small native event file in the facility tree under ``root``."""
    rng = np.random.default_rng(seed)
    path = root / "SNAP" / f"IPTS-{ipts}" / "nexus" / f"SNAP_{run}.nxs.h5"
    with EventFileWriter(path, run_number=run, title="test run", start_time="2026-01-01T00:00:00",
                         duration_s=10.0, proton_charge=1.5, das_logs=logs or state_logs(REFERENCE_STATE)) as w:
        w.append(rng.integers(0, 1_179_648, n).astype(np.uint32), rng.uniform(*tof_range, n).astype(np.float32))
    return path


@pytest.fixture
def facility(settings_env):
    """Data root with run 101 (IPTS 7); returns the data root."""
    root = settings_env / "data_root"
    write_run(root)
    return root
