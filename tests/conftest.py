"""Shared fixtures: paths to ../shared reference files (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
