"""Bring index and version folders back into agreement after a crash or a hand edit."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel, ValidationError

from snapcal_core.errors import StorageError
from snapcal_core.storage.atomic import DiffractionLock, sha256
from snapcal_core.storage.index import CorruptIndexError, read_index, write_index
from snapcal_core.storage.models import CalibrationRecord, IndexEntry
from snapcal_core.storage.paths import RECORD_FILE, existing_versions


class ReconcileReport(BaseModel):
    """What reconcile found and did."""

    directory: str
    removed_temporary: list[str] = []
    added_entries: list[int] = []
    dropped_entries: list[int] = []
    invalid_versions: dict[int, str] = {}
    index_was_corrupt: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.removed_temporary or self.added_entries or self.dropped_entries or self.index_was_corrupt)


def _valid_record(folder: Path) -> CalibrationRecord:
    path = folder / RECORD_FILE
    if not path.is_file():
        raise StorageError("no CalibrationRecord.json")
    try:
        record = CalibrationRecord.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise StorageError(f"record unreadable: {str(exc).splitlines()[0]}") from None
    for name, digest in record.checksums.items():
        if not (folder / name).is_file() or sha256(folder / name) != digest:
            raise StorageError(f"{name} missing or does not match its checksum")
    return record


def reconcile(directory: Path, *, repair: bool = True) -> ReconcileReport:
    """Under the lock: drop stale temporary folders, rebuild missing or corrupt index entries from the
    records of complete ``v_*`` folders, drop entries without a folder; report invalid folders."""
    directory = Path(directory)
    report = ReconcileReport(directory=str(directory))
    with DiffractionLock(directory):
        for tmp in sorted(directory.glob(".tmp_v_*")):
            report.removed_temporary.append(tmp.name)
            if repair:
                shutil.rmtree(tmp, ignore_errors=True)
        try:
            entries = {e.version: e for e in read_index(directory)}
        except CorruptIndexError:
            report.index_was_corrupt, entries = True, {}
        valid: dict[int, IndexEntry] = {}
        for version in existing_versions(directory):
            try:
                valid[version] = _valid_record(directory / f"v_{version:04d}").indexEntry
            except StorageError as exc:
                report.invalid_versions[version] = str(exc)
        report.added_entries = sorted(set(valid) - set(entries))
        report.dropped_entries = sorted(set(entries) - set(valid))
        if repair and report.changed:
            write_index(directory, [entries.get(v, valid[v]) for v in sorted(valid)])
    return report
