"""Shared fixtures: paths to ../shared reference files (skipped with a reason when absent)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Prefect reads its settings at import: keep tests offline, quiet and out of ~/.prefect.
os.environ.update(
    {
        "PREFECT_HOME": tempfile.mkdtemp(prefix="snapcal-prefect-test-"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
)
os.environ.pop("PREFECT_API_URL", None)  # never a real server: the session harness starts its own

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE = SHARED / "reference"


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """``../shared/reference``; tests that need it skip where it is absent (a user's fresh clone)."""
    if not REFERENCE.is_dir():
        pytest.skip(f"reference material not found at {REFERENCE} (../shared is absent on a fresh clone)")
    return REFERENCE


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every snapcal setting into ``tmp_path`` (data root, calibration home, scratch)."""
    for name in ("data_root", "calibration_home", "scratch_dir"):
        monkeypatch.setenv(f"SNAPCAL_{name.upper()}", str(tmp_path / name))
    monkeypatch.setenv("SNAPCAL_CONFIG", str(tmp_path / "absent.toml"))
    return tmp_path


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (started on first use; ~15 s on 2 cores)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
