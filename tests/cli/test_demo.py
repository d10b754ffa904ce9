"""``make demo`` end to end (what README promises a fresh clone), in a temporary tree."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_demo_simulates_calibrates_and_saves_version_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(SNAPCAL_DATA_ROOT=str(tmp_path / "facility"), SNAPCAL_CALIBRATION_HOME=str(tmp_path / "calibration"),
               SNAPCAL_SCRATCH_DIR=str(tmp_path / "scratch"), SNAPCAL_CONFIG=str(tmp_path / "absent.toml"),
               PREFECT_HOME=str(tmp_path / "prefect"))
    done = subprocess.run([sys.executable, "-m", "cli.demo"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "new calibration version 1" in done.stdout
    assert (tmp_path / "calibration" / "Powder" / "04bd2c53f6bf6754" / "lite" / "diffraction" / "v_0001").is_dir()
