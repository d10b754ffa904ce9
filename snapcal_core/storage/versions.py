"""Read-only queries of the store: states, versions, records, tables, and the version applying to a run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from snapcal_core.errors import CorruptFileError, StorageError
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal
from snapcal_core.storage.applies_to import applies
from snapcal_core.storage.atomic import sha256
from snapcal_core.storage.index import read_index
from snapcal_core.storage.models import CalibrationRecord, IndexEntry, describe
from snapcal_core.storage.paths import (
    PARAMETERS_FILE,
    RECORD_FILE,
    check_state_id,
    diffraction_dir,
    inside,
    list_state_ids,
    version_dir,
)


@dataclass(frozen=True)
class LoadedVersion:
    """One stored version: its record, table, folder and files (checksums verified on load)."""

    record: CalibrationRecord
    table: DiffCalTable
    path: Path
    files: dict[str, Path]

    @property
    def mask(self) -> np.ndarray:
        """True for masked pixels (``use == 0``), in table row order."""
        masked: np.ndarray = self.table.use == 0
        return masked

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return self.record.groupMetrics

    @property
    def extra_files(self) -> dict[str, Path]:
        """Focused spectra, fit diagnostics, plots: every file besides the record, parameters and table."""
        own = {RECORD_FILE, PARAMETERS_FILE, self.record.tableFile}
        return {name: path for name, path in self.files.items() if name not in own}


def _mode(lite: bool) -> str:
    return "lite" if lite else "native"


def list_states(home: Path) -> list[str]:
    """State ids with a folder in the calibration home."""
    return list_state_ids(home)


def list_versions(home: Path, state_id: str, *, lite: bool) -> list[IndexEntry]:
    """Index entries of a state and mode, by version (a corrupt index is an error, never an empty list)."""
    return read_index(diffraction_dir(home, check_state_id(state_id), lite=lite))


def _version_folder(home: Path, state_id: str, *, lite: bool, version: int) -> Path:
    return inside(home, version_dir(home, state_id, lite=lite, version=version))


def read_record(home: Path, state_id: str, *, lite: bool, version: int) -> CalibrationRecord:
    """The record of one version (metrics, parameters, checksums) without reading or verifying its files."""
    path = _version_folder(home, state_id, lite=lite, version=version) / RECORD_FILE
    try:
        return CalibrationRecord.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise StorageError(f"version {version} of state {state_id} ({_mode(lite)}) does not exist "
                           f"or is incomplete: {path} is missing") from None
    except ValidationError as exc:
        raise StorageError(f"{path} is unreadable: {describe(exc)}") from None


def load_version(home: Path, state_id: str, *, lite: bool, version: int) -> LoadedVersion:
    """Record, table, mask and files of one version; every checksum in the record is verified."""
    record = read_record(home, state_id, lite=lite, version=version)
    folder = _version_folder(home, state_id, lite=lite, version=version)
    for name, digest in record.checksums.items():
        path = folder / name
        if not path.is_file() or sha256(path) != digest:
            raise StorageError(f"{path} is missing or does not match the checksum in its record")
    try:
        table = read_diffcal(folder / record.tableFile)
    except CorruptFileError as exc:
        raise StorageError(str(exc)) from None
    files = {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}
    return LoadedVersion(record=record, table=table, path=folder, files=files)


def _applies(entry: IndexEntry, run_number: int, state_id: str) -> bool:
    try:
        return applies(entry.appliesTo, run_number)
    except StorageError as exc:
        raise StorageError(f"index entry v_{entry.version:04d} of state {state_id}: {exc}") from None


def applicable_version(home: Path, state_id: str, *, lite: bool, run_number: int) -> IndexEntry:
    """The latest (by timestamp) entry whose appliesTo holds for the run; v_0000 only when none does."""
    entries = list_versions(home, state_id, lite=lite)
    hits = [e for e in entries if e.version > 0 and _applies(e, run_number, state_id)]
    if hits:
        return max(hits, key=lambda e: (e.timestamp, e.version))
    zero = [e for e in entries if e.version == 0]
    if not zero:
        raise StorageError(f"state {state_id} ({_mode(lite)}) has no calibration for run {run_number} and no v_0000")
    return zero[0]
