"""``CalibrationIndex.json``: a JSON list of SNAPRed index entries, replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from snapcal_core.errors import StorageError
from snapcal_core.storage.atomic import write_json_atomic
from snapcal_core.storage.models import IndexEntry
from snapcal_core.storage.paths import INDEX_FILE

_ENTRIES = TypeAdapter(list[IndexEntry])


class CorruptIndexError(StorageError):
    """The index cannot be read; ``snapcal index repair`` rebuilds it from the version folders."""


def index_path(directory: Path) -> Path:
    return Path(directory) / INDEX_FILE


def read_index(directory: Path) -> list[IndexEntry]:
    """Entries sorted by version; missing index -> empty; unreadable -> :class:`CorruptIndexError`."""
    path = index_path(directory)
    if not path.exists():
        return []
    try:
        entries = _ENTRIES.validate_python(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValidationError, UnicodeDecodeError) as exc:
        raise CorruptIndexError(f"calibration index {path} is corrupt ({str(exc).splitlines()[0]}); "
                                f"run 'snapcal index repair' to rebuild it from the v_* folders") from None
    return sorted(entries, key=lambda e: e.version)


def write_index(directory: Path, entries: list[IndexEntry]) -> None:
    write_json_atomic(index_path(directory), [e.model_dump(mode="json") for e in sorted(entries, key=lambda e: e.version)])
