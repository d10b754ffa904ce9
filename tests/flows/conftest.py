"""Fixtures of the flow tests: each module defines ``facility`` (its simulated runs)."""

import pytest


@pytest.fixture
def env(facility, tmp_path, monkeypatch, prefect_harness):
    """Settings pointing at the module's facility and a fresh calibration home and scratch area."""
    monkeypatch.setenv("SNAPCAL_DATA_ROOT", str(facility))
    monkeypatch.setenv("SNAPCAL_CALIBRATION_HOME", str(tmp_path / "calibration"))
    monkeypatch.setenv("SNAPCAL_SCRATCH_DIR", str(tmp_path / "scratch"))
    return tmp_path
