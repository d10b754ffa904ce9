"""Run number -> IPTS -> raw file (and its Lite copy) in the facility tree.

``<data_root>/SNAP/IPTS-<n>/nexus/SNAP_<run>.nxs.h5``; Lite copy
``<data_root>/SNAP/IPTS-<n>/shared/lite/SNAP_<run>.lite.nxs.h5``.
"""

from __future__ import annotations

from pathlib import Path

from snapcal_core.errors import IptsNotFoundError
from snapcal_core.models import validate_run_number

#: data_root -> {run: ipts}; a miss triggers a re-scan, so new runs are found.
_IPTS_CACHE: dict[Path, dict[int, int]] = {}


def ipts_dir(data_root: Path, ipts: int) -> Path:
    return Path(data_root) / "SNAP" / f"IPTS-{ipts}"


def raw_file_path(data_root: Path, *, ipts: int, run_number: int) -> Path:
    return ipts_dir(data_root, ipts) / "nexus" / f"SNAP_{run_number}.nxs.h5"


def lite_file_path(data_root: Path, *, ipts: int, run_number: int) -> Path:
    return ipts_dir(data_root, ipts) / "shared" / "lite" / f"SNAP_{run_number}.lite.nxs.h5"


#: Where runs live below ``<data_root>/SNAP``: (glob, file suffix, depth of the IPTS folder above the file).
_RUN_FILES = (("IPTS-*/nexus/SNAP_*.nxs.h5", ".nxs.h5", 1), ("IPTS-*/shared/lite/SNAP_*.lite.nxs.h5", ".lite.nxs.h5", 2))


def _scan(data_root: Path) -> dict[int, int]:
    """run -> IPTS for every raw file (or, failing that, Lite copy) in the facility tree."""
    found: dict[int, int] = {}
    for pattern, suffix, depth in _RUN_FILES:
        for path in (Path(data_root) / "SNAP").glob(pattern):
            try:
                ipts = int(path.parents[depth].name.removeprefix("IPTS-"))
                run = int(path.name.removeprefix("SNAP_").removesuffix(suffix))
            except ValueError:
                continue
            found.setdefault(run, ipts)
    return found


def find_ipts(run_number: object, *, data_root: Path) -> int:
    """The IPTS that holds ``run_number`` (cached per data root; re-scanned on a miss)."""
    run = validate_run_number(run_number)
    root = Path(data_root).resolve()
    cache = _IPTS_CACHE.get(root)
    if cache is None or run not in cache:
        cache = _IPTS_CACHE[root] = _scan(root)
    if run not in cache:
        raise IptsNotFoundError(f"run {run} is in no IPTS folder under {root / 'SNAP'}")
    return cache[run]
