"""``CalibrationIndex.json``: a JSON list of SNAPRed index entries, replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from snapcal_core.errors import StorageError
from snapcal_core.storage.atomic import write_json_atomic
from snapcal_core.storage.models import IndexEntry, describe
from snapcal_core.storage.paths import INDEX_FILE

_ENTRIES = TypeAdapter(list[IndexEntry])


class CorruptIndexError(StorageError):
    """The index cannot be read; ``snapcal index repair`` rebuilds it from the version folders."""


def index_path(directory: Path) -> Path:
    return Path(directory) / INDEX_FILE


def _legacy_timestamps(raw: Any) -> Any:
    """SNAPRed reads an integer ``timestamp`` as legacy milliseconds; so do we (we always write floats)."""
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict) and type(item.get("timestamp")) is int:
                item["timestamp"] = item["timestamp"] / 1000.0
    return raw


def _corrupt(path: Path, why: str) -> CorruptIndexError:
    return CorruptIndexError(f"calibration index {path} is corrupt ({why}); run 'snapcal index repair' "
                             f"to rebuild it from the v_* folders (the broken file is kept as a backup)")


def read_index(directory: Path) -> list[IndexEntry]:
    """Entries sorted by version; missing index -> empty; unreadable -> :class:`CorruptIndexError`."""
    path = index_path(directory)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise _corrupt(path, str(exc)) from None
    try:
        entries = _ENTRIES.validate_python(_legacy_timestamps(json.loads(text)))
    except json.JSONDecodeError as exc:
        raise _corrupt(path, str(exc)) from None
    except ValidationError as exc:
        raise _corrupt(path, describe(exc)) from None
    versions = [e.version for e in entries]
    if len(set(versions)) != len(versions):
        duplicated = sorted({v for v in versions if versions.count(v) > 1})
        raise _corrupt(path, f"version(s) {duplicated} listed more than once")
    return sorted(entries, key=lambda e: e.version)


def write_index(directory: Path, entries: list[IndexEntry]) -> None:
    """Replace the index atomically (caller holds the folder's lock)."""
    ordered = sorted(entries, key=lambda e: e.version)
    write_json_atomic(index_path(directory), [e.model_dump(mode="json") for e in ordered])
