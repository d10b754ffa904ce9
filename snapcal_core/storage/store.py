"""Initialise states, save calibrations, and query versions (layout and guarantees: docs/storage.md)."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from snapcal_core import __version__
from snapcal_core.constants import N_LITE_PIXELS, N_NATIVE_PIXELS
from snapcal_core.errors import StorageError
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.io.diffcal import DiffCalTable, write_diffcal
from snapcal_core.models import DetectorState
from snapcal_core.storage.atomic import (
    DiffractionLock,
    checkpoint,
    fsync_dir,
    fsync_file,
    sha256,
    write_json_new,
)
from snapcal_core.storage.index import read_index, write_index
from snapcal_core.storage.models import CalibrationRecord, IndexEntry, SavedVersion, SaveRequest
from snapcal_core.storage.paths import (
    GROUPING_MAP_FILE,
    PARAMETERS_FILE,
    RECORD_FILE,
    TABLE_PREFIX,
    check_file_name,
    diffraction_dir,
    existing_versions,
    state_root,
    table_name,
)
from snapcal_core.storage.reconcile import orphan_entries

# the query API, re-exported (``X as X``: an explicit re-export)
from snapcal_core.storage.versions import LoadedVersion as LoadedVersion
from snapcal_core.storage.versions import applicable_version as applicable_version
from snapcal_core.storage.versions import list_states as list_states
from snapcal_core.storage.versions import list_versions as list_versions
from snapcal_core.storage.versions import load_version as load_version
from snapcal_core.storage.versions import read_record as read_record

#: Built-in focus groupings listed in a new state's grouping map (snapcal_core.instrument.groupings).
BUILTIN_GROUPINGS = ("Column", "Bank", "All")


def _publish(directory: Path, version: int, fill: Callable[[Path], CalibrationRecord]) -> Path:
    """Build ``v_NNNN`` in a hidden temp folder beside it, fsync everything, rename it into place.

    The caller holds the folder's lock; an existing ``v_NNNN`` is never replaced.
    """
    target = directory / f"v_{version:04d}"
    tmp = directory / f".tmp_v_{version:04d}_{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        checkpoint("temp_folder_created")
        record = fill(tmp)
        for path in sorted(tmp.iterdir()):
            if path.name != record.tableFile:  # write_diffcal fsyncs the table itself
                fsync_file(path)
        record.checksums = {p.name: sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        checkpoint("files_written")
        with open(tmp / RECORD_FILE, "w") as fh:
            fh.write(record.model_dump_json(indent=2))
            fh.flush()
            fsync_file(tmp / RECORD_FILE)
        fsync_dir(tmp)
        checkpoint("record_written")
        if target.exists():
            raise StorageError(f"{target} already exists; refusing to overwrite a version")
        tmp.rename(target)
        checkpoint("renamed")
        fsync_dir(directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _record(*, request: SaveRequest, entry: IndexEntry, table_file: str) -> CalibrationRecord:
    return CalibrationRecord(
        runNumber=entry.runNumber, useLiteMode=request.lite, version=entry.version,
        stateId=request.state.state_id(), indexEntry=entry, detectorState=request.state, calibrant=request.calibrant,
        grouping=request.grouping, calculationParameters=request.calculation_parameters,
        groupMetrics=request.group_metrics, iterations=request.iterations, approval=request.approval,
        softwareVersion=f"snapcal {__version__}",
        tableFile=table_file, checksums={})


def _write_version_files(tmp: Path, *, request: SaveRequest, entry: IndexEntry, table: DiffCalTable,
                         extra_files: dict[str, Path]) -> CalibrationRecord:
    name = table_name(int(entry.runNumber), entry.version)
    write_diffcal(tmp / name, table)
    checkpoint("table_written")
    parameters = {"stateId": request.state.state_id(), "version": entry.version, "calibrant": request.calibrant,
                  "grouping": request.grouping, **request.model_dump(mode="json")["calculation_parameters"]}
    (tmp / PARAMETERS_FILE).write_text(json.dumps(parameters, indent=2))  # fsynced with the folder by _publish
    checkpoint("parameters_written")
    for target_name, source in extra_files.items():
        shutil.copyfile(source, tmp / target_name)
        checkpoint("extra_file_copied")
    return _record(request=request, entry=entry, table_file=name)


def check_table(table: DiffCalTable, *, lite: bool) -> None:
    """Refuse a table that cannot be a calibration of this mode (before anything is written)."""
    if not isinstance(table, DiffCalTable) or table.n_rows == 0:
        raise StorageError("the calibration table is empty or not a DiffCalTable")
    n_pixels = N_LITE_PIXELS if lite else N_NATIVE_PIXELS
    detid = np.asarray(table.detid)
    if detid.min() < 0 or detid.max() >= n_pixels:
        raise StorageError(f"table detector ids span {detid.min()}..{detid.max()}, outside the "
                           f"{'Lite' if lite else 'native'} range 0..{n_pixels - 1}")
    if np.unique(detid).size != detid.size:
        raise StorageError("table detector ids are not unique")
    used = np.asarray(table.use) != 0
    if not np.all(np.isfinite(table.difc[used]) & (table.difc[used] > 0)):
        raise StorageError("table has pixels in use with a non-finite or non-positive DIFC")


def _check_extra_files(extra_files: dict[str, Path | str] | None) -> dict[str, Path]:
    reserved = {RECORD_FILE, PARAMETERS_FILE}
    checked = {}
    for name, source in (extra_files or {}).items():
        check_file_name(name, reserved=reserved)
        if name.startswith(TABLE_PREFIX):
            raise StorageError(f"extra file name {name!r} is reserved for the calibration table")
        if not Path(source).is_file():
            raise StorageError(f"extra file {source} (for {name}) does not exist")
        checked[name] = Path(source)
    return checked


def default_table(state: DetectorState, *, lite: bool) -> DiffCalTable:
    """The v_0000 table: DIFC from the nominal geometry of the state, DIFA = TZERO = 0, every pixel used."""
    geometry = snap_geometry(arc_deg=state.arc_deg, lin_m=state.lin_m, lite=lite)
    return DiffCalTable.from_difc(geometry.difc_us_per_angstrom, instrument_name="SNAPLite" if lite else "SNAP",
                                  instrument_source="snapcal default calibration from geometry")


def _grouping_map(state_id: str) -> dict[str, Any]:
    """SNAPRed's ``groupingMap.json``: focus-group names and their grouping files (relative names are
    resolved in SNAPRed's grouping home, where SNAP's ``SNAPFocGroup_<name>[.lite].hdf`` live)."""
    return {"stateId": state_id,
            "liteFocusGroups": [{"name": n, "definition": f"SNAPFocGroup_{n}.lite.hdf"} for n in BUILTIN_GROUPINGS],
            "nativeFocusGroups": [{"name": n, "definition": f"SNAPFocGroup_{n}.hdf"} for n in BUILTIN_GROUPINGS]}


def _init_mode(home: Path, state: DetectorState, *, lite: bool) -> None:
    directory = diffraction_dir(home, state.state_id(), lite=lite)
    if (directory / "v_0000").is_dir():
        return
    with DiffractionLock(directory):
        if 0 in existing_versions(directory):
            return
        entry = IndexEntry(runNumber="0", useLiteMode=lite, version=0, appliesTo=">=0", author="snapcal",
                           comments="default calibration from the instrument geometry", timestamp=0.0)
        request = SaveRequest(run_number=1, state=state, lite=lite, author="snapcal", calibrant="none",
                              grouping="none", calculation_parameters={"source": "geometry"})
        _publish(directory, 0, lambda tmp: _write_version_files(
            tmp, request=request, entry=entry, table=default_table(state, lite=lite), extra_files={}))
        write_index(directory, [entry] + [e for e in read_index(directory) if e.version != 0])


def init_state(home: Path, state: DetectorState) -> Path:
    """Create the state's folders with ``v_0000`` (geometry) for Lite and native and its grouping map.

    Idempotent: an existing ``v_0000`` or grouping map is never rewritten.
    """
    root = state_root(home, state.state_id())
    for lite in (True, False):
        _init_mode(home, state, lite=lite)
    if not (root / GROUPING_MAP_FILE).exists():
        write_json_new(root / GROUPING_MAP_FILE, _grouping_map(state.state_id()))
    return root


def save_calibration(home: Path, request: SaveRequest, table: DiffCalTable, *,
                     extra_files: dict[str, Path | str] | None = None) -> SavedVersion:
    """Publish a new version (max + 1, assigned under the lock) and append its index entry.

    Everything is validated before the first write. Complete version folders left unindexed by a
    crashed writer are indexed first (from their records), so versions stay contiguous.
    """
    try:
        request = SaveRequest.model_validate(request.model_dump())
        request.model_dump_json()  # parameters, metrics and statistics must be JSON-serialisable
    except (ValidationError, PydanticSerializationError) as exc:
        raise StorageError(f"invalid calibration save request: {exc}") from None
    check_table(table, lite=request.lite)
    extra = _check_extra_files(extra_files)
    state_id = request.state.state_id()
    init_state(home, request.state)
    directory = diffraction_dir(home, state_id, lite=request.lite)
    with DiffractionLock(directory):
        checkpoint("locked")
        entries = read_index(directory)
        folders = existing_versions(directory)
        orphans, _ = orphan_entries(directory, {e.version for e in entries}, folders=folders)
        entries += orphans
        version = max([e.version for e in entries] + folders) + 1
        if version > 9999:
            raise StorageError(f"{directory} already holds version 9999, the last 4-digit version")
        # strictly increasing with the version, so "latest by timestamp" is "latest saved" even across
        # machines whose clocks disagree
        timestamp = max([time.time()] + [e.timestamp + 0.001 for e in entries])
        entry = IndexEntry(runNumber=str(request.run_number), useLiteMode=request.lite, version=version,
                           appliesTo=request.applies_to_text, comments=request.comments, author=request.author,
                           timestamp=timestamp)
        path = _publish(directory, version, lambda tmp: _write_version_files(
            tmp, request=request, entry=entry, table=table, extra_files=extra))
        write_index(directory, entries + [entry])
        checkpoint("indexed")
    return SavedVersion(state_id=state_id, lite=request.lite, version=version, path=str(path), entry=entry)
