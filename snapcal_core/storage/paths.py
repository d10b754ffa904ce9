"""Store layout and input validation: ``<home>/Powder/<stateId>/<lite|native>/diffraction/v_NNNN/``."""

from __future__ import annotations

import re
from pathlib import Path

from snapcal_core.errors import StorageError

STATE_ID = re.compile(r"^[0-9a-f]{16}$")
VERSION_DIR = re.compile(r"^v_(\d{4})$")
INDEX_FILE = "CalibrationIndex.json"
RECORD_FILE = "CalibrationRecord.json"
PARAMETERS_FILE = "CalibrationParameters.json"
MAX_COMMENT_CHARS = 4000


def check_state_id(state_id: str) -> str:
    if not isinstance(state_id, str) or not STATE_ID.match(state_id):
        raise StorageError(f"state id {state_id!r} is not 16 lower-case hex digits")
    return state_id


def check_version(version: int) -> int:
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= 9999:
        raise StorageError(f"version {version!r} is not an integer in 0..9999")
    return version


def state_root(home: Path, state_id: str) -> Path:
    return inside(home, Path(home) / "Powder" / check_state_id(state_id))


def diffraction_dir(home: Path, state_id: str, *, lite: bool) -> Path:
    return state_root(home, state_id) / ("lite" if lite else "native") / "diffraction"


def version_dir(home: Path, state_id: str, *, lite: bool, version: int) -> Path:
    return diffraction_dir(home, state_id, lite=lite) / f"v_{check_version(version):04d}"


def table_name(run_number: int, version: int) -> str:
    """SNAPRed's table file name, ``diffract_consts_<run:06d>_v<NNNN>.h5``."""
    return f"diffract_consts_{run_number:06d}_v{version:04d}.h5"


def inside(home: Path, path: Path) -> Path:
    """``path`` if it resolves inside ``home``; a :class:`StorageError` otherwise (path traversal)."""
    root = Path(home).resolve()
    resolved = Path(path).resolve()
    if resolved != root and root not in resolved.parents:
        raise StorageError(f"path {path} leaves the calibration home {root}")
    return Path(path)


def existing_versions(directory: Path) -> list[int]:
    """Versions of the complete-looking ``v_NNNN`` folders (temporary folders are hidden)."""
    if not directory.is_dir():
        return []
    return sorted(int(m.group(1)) for p in directory.iterdir() if p.is_dir() and (m := VERSION_DIR.match(p.name)))
