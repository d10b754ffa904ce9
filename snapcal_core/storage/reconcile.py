"""Bring index and version folders back into agreement after a crash or a hand edit."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from pydantic import BaseModel, ValidationError

from snapcal_core.errors import StorageError
from snapcal_core.storage.atomic import DiffractionLock, fsync_dir, sha256
from snapcal_core.storage.index import CorruptIndexError, index_path, read_index, write_index
from snapcal_core.storage.models import CalibrationRecord, IndexEntry, describe
from snapcal_core.storage.paths import RECORD_FILE, existing_versions


class ReconcileReport(BaseModel):
    """What reconcile found and (with ``repair``) did."""

    directory: str
    removed_temporary: list[str] = []
    added_entries: list[int] = []
    dropped_entries: list[int] = []
    invalid_versions: dict[int, str] = {}
    index_was_corrupt: bool = False
    backup: str | None = None
    repaired: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.removed_temporary or self.added_entries or self.dropped_entries or self.index_was_corrupt)

    def lines(self) -> list[str]:
        """Human-readable summary, one finding per line ('consistent' when there is none)."""
        done = self.repaired
        out = [f"index {'was' if done else 'is'} corrupt" + (f" (kept as {self.backup})" if self.backup else "")
               if self.index_was_corrupt else ""]
        out += [f"{'removed ' if done else ''}stale temporary {name}" for name in self.removed_temporary]
        out += [f"{'indexed' if done else 'unindexed'} v_{v:04d} (its folder had no index entry)"
                for v in self.added_entries]
        out += [f"{'dropped' if done else 'dangling'} index entry {v} (no v_{v:04d} folder)"
                for v in self.dropped_entries]
        out += [f"v_{v:04d} is invalid (kept, not loadable): {why}" for v, why in self.invalid_versions.items()]
        return [line for line in out if line] or ["consistent"]


def valid_record(folder: Path) -> CalibrationRecord:
    """The record of a complete version folder; :class:`StorageError` saying what is wrong otherwise."""
    path = folder / RECORD_FILE
    if not path.is_file():
        raise StorageError(f"{folder.name} has no {RECORD_FILE}")
    try:
        record = CalibrationRecord.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise StorageError(f"{path} is unreadable: {describe(exc)}") from None
    version = int(folder.name.removeprefix("v_"))
    if record.version != version or record.indexEntry.version != version:
        raise StorageError(f"{path} describes version {record.version}, not {version}")
    if record.tableFile not in record.checksums:
        raise StorageError(f"{path} has no checksum for its table {record.tableFile}")
    for name, digest in record.checksums.items():
        if not (folder / name).is_file() or sha256(folder / name) != digest:
            raise StorageError(f"{folder / name} is missing or does not match the checksum in its record")
    return record


def orphan_entries(directory: Path, indexed: set[int], *,
                   folders: list[int] | None = None) -> tuple[list[IndexEntry], dict[int, str]]:
    """Index entries (from their records) of complete ``v_*`` folders missing from the index, and the
    invalid ones. The caller holds the lock."""
    found, invalid = [], {}
    for version in existing_versions(directory) if folders is None else folders:
        if version in indexed:
            continue
        try:
            found.append(valid_record(directory / f"v_{version:04d}").indexEntry)
        except StorageError as exc:
            invalid[version] = str(exc)
    return found, invalid


def _remove_temporaries(directory: Path, *, repair: bool) -> list[str]:
    stale = sorted(directory.glob(".tmp_v_*")) + sorted(directory.glob(".*.tmp"))
    for path in stale:
        if repair:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return [p.name for p in stale]


def _backup_index(directory: Path) -> str:
    source = index_path(directory)
    backup = source.with_name(f"{source.name}.bak-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}")
    shutil.copy2(source, backup)
    fsync_dir(directory)
    return backup.name


def reconcile(directory: Path, *, repair: bool = True) -> ReconcileReport:
    """Under the lock: find (and with ``repair`` fix) disagreements between index and folders.

    Stale temporary folders and files are removed (no writer is active while we hold the lock);
    complete ``v_*`` folders missing from the index get their entry back from their record;
    entries without any folder are dropped; folders whose record is missing or whose checksums do
    not match are reported and never deleted (their entries, if any, are kept). A corrupt index or
    one losing entries is copied to ``CalibrationIndex.json.bak-<time>`` before it is replaced.
    """
    directory = Path(directory)
    report = ReconcileReport(directory=str(directory), repaired=repair)
    with DiffractionLock(directory):
        report.removed_temporary = _remove_temporaries(directory, repair=repair)
        try:
            entries = {e.version: e for e in read_index(directory)}
        except CorruptIndexError:
            report.index_was_corrupt, entries = True, {}
        folders = set(existing_versions(directory))
        added, report.invalid_versions = orphan_entries(directory, set(entries))
        for version in sorted(folders & set(entries)):
            try:
                valid_record(directory / f"v_{version:04d}")
            except StorageError as exc:
                report.invalid_versions[version] = str(exc)
        report.invalid_versions = dict(sorted(report.invalid_versions.items()))
        report.added_entries = [e.version for e in added]
        report.dropped_entries = sorted(set(entries) - folders)
        if repair and (report.added_entries or report.dropped_entries or report.index_was_corrupt):
            if report.index_was_corrupt or report.dropped_entries:
                report.backup = _backup_index(directory)
            kept = [e for v, e in entries.items() if v in folders]
            write_index(directory, kept + added)
    return report
