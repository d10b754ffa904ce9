"""Run number -> IPTS -> raw file (and its Lite copy) in the facility tree.

``<data_root>/SNAP/IPTS-<n>/nexus/SNAP_<run>.nxs.h5``; Lite copy
``<data_root>/SNAP/IPTS-<n>/shared/lite/SNAP_<run>.lite.nxs.h5``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from snapcal_core.errors import DuplicateRunError, IptsNotFoundError
from snapcal_core.models import validate_run_number

#: resolved data_root -> {run: ipts}. Only hits are cached, and a hit is re-checked on disk, so a
#: run that appears later is found and a run that moved is searched for again.
_IPTS_CACHE: dict[Path, dict[int, int]] = {}


@dataclass(frozen=True)
class RunLocation:
    """Where a run's files are (the Lite copy may not exist yet)."""

    run_number: int
    ipts: int
    raw_path: Path
    lite_path: Path


def ipts_dir(data_root: Path, ipts: int) -> Path:
    return Path(data_root) / "SNAP" / f"IPTS-{ipts}"


def raw_file_path(data_root: Path, *, ipts: int, run_number: int) -> Path:
    return ipts_dir(data_root, ipts) / "nexus" / f"SNAP_{run_number}.nxs.h5"


def lite_file_path(data_root: Path, *, ipts: int, run_number: int) -> Path:
    return ipts_dir(data_root, ipts) / "shared" / "lite" / f"SNAP_{run_number}.lite.nxs.h5"


def _has_run(data_root: Path, ipts: int, run: int) -> bool:
    return (raw_file_path(data_root, ipts=ipts, run_number=run).is_file()
            or lite_file_path(data_root, ipts=ipts, run_number=run).is_file())


def _ipts_numbers(data_root: Path) -> list[int]:
    """IPTS numbers of the ``IPTS-<n>`` folders under ``<data_root>/SNAP``, ascending."""
    numbers = []
    for folder in (Path(data_root) / "SNAP").glob("IPTS-*"):
        suffix = folder.name.removeprefix("IPTS-")
        if suffix.isdigit() and folder.is_dir():
            numbers.append(int(suffix))
    return sorted(numbers)


def _holders(data_root: Path, run: int) -> list[int]:
    """IPTS numbers whose folder holds the run's raw file or its Lite copy, ascending."""
    return [ipts for ipts in _ipts_numbers(data_root) if _has_run(data_root, ipts, run)]


def _search(data_root: Path, run: int) -> int | None:
    """The one IPTS holding the run's raw file or Lite copy; None if none does.

    :class:`DuplicateRunError` names every folder when several do: picking one could calibrate
    from the wrong experiment's file.
    """
    holders = _holders(data_root, run)
    if len(holders) > 1:
        folders = " and ".join(str(ipts_dir(data_root, ipts)) for ipts in holders)
        raise DuplicateRunError(
            f"run {run} is under {len(holders)} IPTS folders: {folders} (each holds SNAP_{run}.nxs.h5 or its "
            "Lite copy); remove or rename the wrong one"
        )
    return holders[0] if holders else None


def find_ipts(run_number: object, *, data_root: Path) -> int:
    """The IPTS that holds ``run_number`` (cached per data root; searched again on a miss).

    A search that finds the run under two IPTS folders raises :class:`DuplicateRunError`; a cached
    answer whose folder still holds the run is trusted without a search.
    """
    return _find_ipts(validate_run_number(run_number), Path(data_root))


def _find_ipts(run: int, data_root: Path) -> int:
    root = Path(data_root).resolve()
    cache = _IPTS_CACHE.setdefault(root, {})
    ipts = cache.get(run)
    if ipts is None or not _has_run(root, ipts, run):
        cache.pop(run, None)
        ipts = _search(root, run)
    if ipts is None:
        where = root / "SNAP"
        reason = "" if where.is_dir() else " (that folder does not exist: check the data root)"
        raise IptsNotFoundError(
            f"run {run} is in no IPTS folder under {where}: no IPTS-*/nexus/SNAP_{run}.nxs.h5{reason}"
        )
    cache[run] = ipts
    return ipts


def locate_run(run_number: object, *, data_root: Path) -> RunLocation:
    """IPTS, raw path and Lite-copy path of a run."""
    run = validate_run_number(run_number)  # the one check of a run number on its way to a calibration
    ipts = _find_ipts(run, Path(data_root))
    return RunLocation(run_number=run, ipts=ipts, raw_path=raw_file_path(data_root, ipts=ipts, run_number=run),
                       lite_path=lite_file_path(data_root, ipts=ipts, run_number=run))
