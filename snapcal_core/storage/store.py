"""Initialise states, save calibrations, and query versions (layout and guarantees: docs/storage.md)."""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from snapcal_core import __version__
from snapcal_core.errors import StorageError
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal, write_diffcal
from snapcal_core.models import DetectorState
from snapcal_core.storage.applies_to import applies
from snapcal_core.storage.atomic import DiffractionLock, fsync_dir, sha256, write_json_atomic
from snapcal_core.storage.index import read_index, write_index
from snapcal_core.storage.models import CalibrationRecord, IndexEntry, SavedVersion, SaveRequest
from snapcal_core.storage.paths import (
    PARAMETERS_FILE,
    RECORD_FILE,
    check_state_id,
    diffraction_dir,
    existing_versions,
    inside,
    state_root,
    table_name,
)

BUILTIN_GROUPINGS = ("Column", "Bank", "All")


def _fault(point: str) -> None:
    """Fault injection for crash tests: ``SNAPCAL_STORE_FAULT=<point>`` kills the process there."""
    if os.environ.get("SNAPCAL_STORE_FAULT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _publish(directory: Path, version: int, fill: Callable[[Path], CalibrationRecord]) -> Path:
    """Build ``v_NNNN`` in a hidden temp folder beside it, then rename it into place (never over one)."""
    target = directory / f"v_{version:04d}"
    tmp = directory / f".tmp_v_{version:04d}_{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        record = fill(tmp)
        record.checksums = {p.name: sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        _fault("before_record")
        with open(tmp / RECORD_FILE, "w") as fh:
            fh.write(record.model_dump_json(indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        fsync_dir(tmp)
        _fault("before_rename")
        if target.exists():
            raise StorageError(f"{target} already exists; refusing to overwrite a version")
        os.rename(tmp, target)
        fsync_dir(directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _record(*, request: SaveRequest, entry: IndexEntry, table_file: str) -> CalibrationRecord:
    return CalibrationRecord(
        runNumber=entry.runNumber, useLiteMode=request.lite, version=entry.version,
        stateId=request.state.state_id(), indexEntry=entry, detectorState=request.state, calibrant=request.calibrant,
        grouping=request.grouping, calculationParameters=request.calculation_parameters,
        groupMetrics=request.group_metrics, iterations=request.iterations, softwareVersion=f"snapcal {__version__}",
        tableFile=table_file, checksums={})


def _write_version_files(tmp: Path, *, request: SaveRequest, entry: IndexEntry, table: DiffCalTable,
                         extra_files: dict[str, Path]) -> CalibrationRecord:
    name = table_name(int(entry.runNumber), entry.version)
    write_diffcal(tmp / name, table)
    write_json_atomic(tmp / PARAMETERS_FILE, {"stateId": request.state.state_id(), "version": entry.version,
                                              "calibrant": request.calibrant, "grouping": request.grouping,
                                              **request.calculation_parameters})
    for target_name, source in extra_files.items():
        if Path(target_name).name != target_name or target_name.startswith("."):
            raise StorageError(f"extra file name {target_name!r} must be a plain file name")
        shutil.copyfile(source, tmp / target_name)
    return _record(request=request, entry=entry, table_file=name)


def default_table(state: DetectorState, *, lite: bool) -> DiffCalTable:
    geometry = snap_geometry(arc_deg=state.arc_deg, lin_m=state.lin_m, lite=lite)
    return DiffCalTable.from_difc(geometry.difc_us_per_angstrom, instrument_name="SNAPLite" if lite else "SNAP",
                                  instrument_source="snapcal default calibration from geometry")


def init_state(home: Path, state: DetectorState) -> Path:
    """Create the state's folders with ``v_0000`` (geometry) for Lite and native and its grouping map.

    Idempotent: an existing state (or mode) is left exactly as it is.
    """
    root = state_root(home, state.state_id())
    for lite in (True, False):
        directory = diffraction_dir(home, state.state_id(), lite=lite)
        with DiffractionLock(directory):
            if 0 in existing_versions(directory):
                continue
            entry = IndexEntry(runNumber="0", useLiteMode=lite, version=0, appliesTo=">=0", author="snapcal",
                               comments="default calibration from the instrument geometry", timestamp=0.0)
            request = SaveRequest(run_number=1, state=state, lite=lite, author="snapcal", calibrant="none",
                                  grouping="none", calculation_parameters={"source": "geometry"})
            _publish(directory, 0, lambda tmp: _write_version_files(
                tmp, request=request, entry=entry, table=default_table(state, lite=lite), extra_files={}))
            write_index(directory, [entry] + [e for e in read_index(directory) if e.version != 0])
    grouping_map = root / "groupingMap.json"
    if not grouping_map.exists():
        focus = [{"name": name, "definition": f"builtin:{name}"} for name in BUILTIN_GROUPINGS]
        write_json_atomic(grouping_map, {"stateId": state.state_id(), "liteFocusGroups": focus,
                                         "nativeFocusGroups": focus})
    return root


def save_calibration(home: Path, request: SaveRequest, table: DiffCalTable, *,
                     extra_files: dict[str, Path] | None = None) -> SavedVersion:
    """Publish a new version (max + 1, assigned under the lock) and append its index entry."""
    request = SaveRequest.model_validate(request.model_dump())  # re-validate: nothing is written for bad input
    extra_files = {k: Path(v) for k, v in (extra_files or {}).items()}
    for name, source in extra_files.items():
        if not source.is_file():
            raise StorageError(f"extra file {source} (for {name}) does not exist")
    state_id = request.state.state_id()
    init_state(home, request.state)
    directory = diffraction_dir(home, state_id, lite=request.lite)
    with DiffractionLock(directory):
        entries = read_index(directory)
        version = max([e.version for e in entries] + existing_versions(directory)) + 1
        entry = IndexEntry(runNumber=str(request.run_number), useLiteMode=request.lite, version=version,
                           appliesTo=request.applies_to_text, comments=request.comments, author=request.author,
                           timestamp=time.time())
        path = _publish(directory, version, lambda tmp: _write_version_files(
            tmp, request=request, entry=entry, table=table, extra_files=extra_files))
        _fault("before_index")
        write_index(directory, entries + [entry])
    return SavedVersion(state_id=state_id, lite=request.lite, version=version, path=str(path), entry=entry)


def list_states(home: Path) -> list[str]:
    powder = Path(home) / "Powder"
    return sorted(p.name for p in powder.iterdir() if p.is_dir()) if powder.is_dir() else []


def list_versions(home: Path, state_id: str, *, lite: bool) -> list[IndexEntry]:
    """Index entries of a state and mode (a corrupt index is an error, never an empty list)."""
    return read_index(diffraction_dir(home, check_state_id(state_id), lite=lite))


@dataclass(frozen=True)
class LoadedVersion:
    record: CalibrationRecord
    table: DiffCalTable
    path: Path
    files: dict[str, Path]

    @property
    def mask(self):
        return self.table.use == 0


def load_version(home: Path, state_id: str, *, lite: bool, version: int) -> LoadedVersion:
    """Record, table and files of one version; checksums are verified."""
    directory = inside(home, diffraction_dir(home, state_id, lite=lite) / f"v_{version:04d}")
    record_path = directory / RECORD_FILE
    if not record_path.is_file():
        raise StorageError(f"version {version} of state {state_id} ({'lite' if lite else 'native'}) does not exist "
                           f"or is incomplete: {record_path} is missing")
    record = CalibrationRecord.model_validate_json(record_path.read_text())
    for name, digest in record.checksums.items():
        if sha256(directory / name) != digest:
            raise StorageError(f"{directory / name} does not match the checksum in its record")
    files = {p.name: p for p in directory.iterdir() if p.is_file()}
    return LoadedVersion(record=record, table=read_diffcal(directory / record.tableFile), path=directory, files=files)


def applicable_version(home: Path, state_id: str, *, lite: bool, run_number: int) -> IndexEntry:
    """The latest (by timestamp) entry whose appliesTo holds for the run; v_0000 only when none does."""
    entries = list_versions(home, state_id, lite=lite)
    hits = [e for e in entries if e.version > 0 and applies(e.appliesTo, run_number)]
    if hits:
        return max(hits, key=lambda e: (e.timestamp, e.version))
    zero = [e for e in entries if e.version == 0]
    if not zero:
        raise StorageError(f"state {state_id} has no calibration for run {run_number} and no v_0000")
    return zero[0]
