"""Scratch files: large arrays live on disk and travel between steps as paths.

Events are stored as two ``.npy`` files (memory-mapped on read) plus the run metadata as JSON, in
a folder named by run and mode. Writes go to a temporary folder renamed into place, so a reader
never sees half a set.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from snapcal_core.models import EventData, RunMetadata

T = TypeVar("T")

#: The files of an events folder (:func:`save_events`): pixel ids, TOFs, the native pixels screened
#: at load (when any), run metadata.
PIXEL_FILE, TOF_FILE = "pixel.npy", "tof_us.npy"
NATIVE_REASON_FILE, METADATA_FILE = "native_mask_reason.npy", "metadata.json"


def events_dir(scratch_dir: Path, *, run_number: int, lite: bool) -> Path:
    """Folder of one run's events in the scratch area."""
    return Path(scratch_dir) / f"run_{run_number:06d}" / ("events_lite" if lite else "events_native")


def write_folder(folder: Path, fill: Callable[[Path], T]) -> T:
    """Build ``folder`` with ``fill(tmp)`` in a temporary sibling, then swap it into place."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}")
    tmp.mkdir()
    try:
        value = fill(tmp)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return value


def save_events(events: EventData, folder: Path) -> Path:
    """Write ``events`` into ``folder`` (replaced atomically if it exists) and return it."""

    def fill(tmp: Path) -> None:
        np.save(tmp / PIXEL_FILE, events.pixel)
        np.save(tmp / TOF_FILE, events.tof_us)
        if events.native_mask_reason is not None:
            np.save(tmp / NATIVE_REASON_FILE, events.native_mask_reason)
        meta = {"lite": events.lite, "metadata": events.metadata.model_dump(mode="json")}
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=1))

    write_folder(folder, fill)
    return Path(folder)


def load_events(folder: Path, *, mmap: bool = True) -> EventData:
    """Read events written by :func:`save_events` (memory-mapped by default)."""
    folder = Path(folder)
    meta = json.loads((folder / METADATA_FILE).read_text())
    mode: Literal["r"] | None = "r" if mmap else None
    reason = folder / NATIVE_REASON_FILE
    return EventData(
        pixel=np.load(folder / PIXEL_FILE, mmap_mode=mode),
        tof_us=np.load(folder / TOF_FILE, mmap_mode=mode),
        lite=bool(meta["lite"]),
        metadata=RunMetadata.model_validate(meta["metadata"]),
        native_mask_reason=np.load(reason) if reason.is_file() else None,
    )
