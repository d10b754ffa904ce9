"""Small SNS-layout event files made with the project's own writer, in a facility tree under tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snapcal_core.constants import (
    N_NATIVE_PIXELS,
    REFERENCE_ARC_DEG,
    REFERENCE_FREQUENCY_HZ,
    REFERENCE_GUIDE,
    REFERENCE_LIN_M,
    REFERENCE_WAVELENGTH_ANGSTROM,
)
from snapcal_core.data.locate import raw_file_path
from snapcal_core.data.nexus import EventFileWriter
from snapcal_core.data.state import state_logs
from snapcal_core.models import DetectorState

REFERENCE_STATE = DetectorState(arc_deg=REFERENCE_ARC_DEG, lin_m=REFERENCE_LIN_M,
                                wavelength_angstrom=REFERENCE_WAVELENGTH_ANGSTROM,
                                frequency_hz=REFERENCE_FREQUENCY_HZ, guide=REFERENCE_GUIDE)


def write_run(root: Path, run: int = 101, ipts: int = 7, n: int = 5000, seed: int = 0, logs: dict | None = None,
              tof_range: tuple[float, float] = (5000.0, 15000.0), compression: str | None = "gzip") -> Path:
    """A small native event file (uniform ids over all pixels, uniform TOF) in the facility tree under ``root``."""
    rng = np.random.default_rng(seed)
    path = raw_file_path(root, ipts=ipts, run_number=run)
    logs = state_logs(REFERENCE_STATE) if logs is None else logs
    with EventFileWriter(path, run_number=run, title="test run", start_time="2026-01-01T00:00:00",
                         duration_s=10.0, proton_charge=1.5, das_logs=logs, compression=compression) as w:
        w.append(rng.integers(0, N_NATIVE_PIXELS, n).astype(np.uint32), rng.uniform(*tof_range, n).astype(np.float32))
    return path


@pytest.fixture
def facility(settings_env: Path) -> Path:
    """Data root (SNAPCAL_DATA_ROOT) holding run 101 in IPTS 7; returns the data root."""
    root = settings_env / "data_root"
    write_run(root)
    return root
