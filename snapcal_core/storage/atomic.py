"""Crash-safe file operations and the inter-process lock of a diffraction folder."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from snapcal_core.errors import StorageError

LOCK_FILE = ".CalibrationIndex.lock"
LOCK_TIMEOUT_S = 120.0


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temp file beside ``path``, fsync, rename over it, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class DiffractionLock:
    """OS-level lock (``filelock``) of one diffraction folder; released by the OS if the holder dies."""

    def __init__(self, directory: Path, timeout_s: float = LOCK_TIMEOUT_S) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(directory / LOCK_FILE, timeout=timeout_s)

    def __enter__(self) -> "DiffractionLock":
        try:
            self._lock.acquire()
        except Timeout as exc:
            raise StorageError(f"could not lock {self._lock.lock_file} within {self._lock.timeout} s") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
