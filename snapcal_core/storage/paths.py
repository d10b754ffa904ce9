"""Store layout and input validation: ``<home>/Powder/<stateId>/<lite|native>/diffraction/v_NNNN/``."""

from __future__ import annotations

import re
from pathlib import Path

from snapcal_core.errors import StorageError

STATE_ID = re.compile(r"[0-9a-f]{16}")  # always used with fullmatch (``$`` would accept a trailing newline)
VERSION_DIR = re.compile(r"v_([0-9]{4})")
INDEX_FILE = "CalibrationIndex.json"
RECORD_FILE = "CalibrationRecord.json"
PARAMETERS_FILE = "CalibrationParameters.json"
GROUPING_MAP_FILE = "groupingMap.json"
#: Start of a stored table's file name (:func:`table_name`); no other stored file may begin with it.
TABLE_PREFIX = "diffract_consts_"
MAX_COMMENT_CHARS = 4000
MAX_AUTHOR_CHARS = 200
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")


def check_state_id(state_id: str) -> str:
    if not isinstance(state_id, str) or not STATE_ID.fullmatch(state_id):
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
    return f"{TABLE_PREFIX}{run_number:06d}_v{version:04d}.h5"


def inside(home: Path, path: Path) -> Path:
    """``path`` if it resolves inside ``home``; a :class:`StorageError` otherwise (path traversal)."""
    root = Path(home).resolve()
    resolved = Path(path).resolve()
    if resolved != root and root not in resolved.parents:
        raise StorageError(f"path {path} leaves the calibration home {root}")
    return Path(path)


def check_file_name(name: str, *, reserved: set[str]) -> str:
    """A plain file name for the version folder (no separators, no leading dot, not one the store writes)."""
    if not isinstance(name, str) or not _PLAIN_NAME.fullmatch(name):
        raise StorageError(f"extra file name {name!r} must be a plain file name (letters, digits, '._+-', "
                           f"not starting with a dot or containing a path separator)")
    if name in reserved:
        raise StorageError(f"extra file name {name!r} is reserved for a file the store writes itself")
    return name


def existing_versions(directory: Path) -> list[int]:
    """Versions of the complete-looking ``v_NNNN`` folders (temporary folders are hidden)."""
    if not directory.is_dir():
        return []
    return sorted(int(m.group(1)) for p in directory.iterdir() if (m := VERSION_DIR.fullmatch(p.name)) and p.is_dir())


def list_state_ids(home: Path) -> list[str]:
    """State ids (16 hex digits) that have a folder under ``<home>/Powder``."""
    powder = Path(home) / "Powder"
    if not powder.is_dir():
        return []
    return sorted(p.name for p in powder.iterdir() if STATE_ID.fullmatch(p.name) and p.is_dir())
