"""Crash-safe file operations, the inter-process lock of a diffraction folder, and crash checkpoints."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from snapcal_core.errors import StorageError

LOCK_FILE = ".CalibrationIndex.lock"
LOCK_TIMEOUT_S = 120.0
#: Recent filelock versions silently fall back to a marker-file lock (which survives a crashed holder)
#: where ``flock`` is unsupported; we fail closed instead. Older versions never fall back.
_FAIL_CLOSED: dict[str, Any] = {"fallback_to_soft": False} if "fallback_to_soft" in inspect.signature(FileLock).parameters else {}

_checkpoint_hook: Callable[[str], None] | None = None


def set_checkpoint_hook(hook: Callable[[str], None] | None) -> None:
    """Install a function called at every crash checkpoint (fault-injection tests kill the process there)."""
    global _checkpoint_hook
    _checkpoint_hook = hook


def checkpoint(name: str) -> None:
    """A point where a crash must leave the store consistent; a no-op unless a test installed a hook."""
    if _checkpoint_hook is not None:
        _checkpoint_hook(name)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _write_temp_json(path: Path, data: Any) -> Path:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temp file beside ``path``, fsync, rename over it, fsync the folder."""
    tmp = _write_temp_json(path, data)
    try:
        checkpoint(f"{path.name}:temp_written")
        os.replace(tmp, path)
        checkpoint(f"{path.name}:replaced")
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_new(path: Path, data: Any) -> bool:
    """Create ``path`` atomically with JSON content, never replacing an existing file; True if created.

    The temp file is hard-linked to its name (``link`` fails if the name exists), so two writers
    racing cannot both win and a reader never sees a partial file.
    """
    tmp = _write_temp_json(path, data)
    try:
        os.link(tmp, path)
        fsync_dir(path.parent)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class DiffractionLock:
    """OS-level lock (``filelock``, ``flock``) of one diffraction folder; the kernel releases it if the holder dies.

    Not re-entrant across instances: code that already holds the lock must not take it again.
    """

    def __init__(self, directory: Path, timeout_s: float = LOCK_TIMEOUT_S) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(directory / LOCK_FILE, timeout=timeout_s, **_FAIL_CLOSED)

    def __enter__(self) -> DiffractionLock:
        try:
            self._lock.acquire()
        except Timeout as exc:
            raise StorageError(f"could not lock {self._lock.lock_file} within {self._lock.timeout} s "
                               f"(another snapcal process is saving to this state)") from exc
        except (OSError, NotImplementedError) as exc:
            raise StorageError(f"cannot lock {self._lock.lock_file}: {exc} (the calibration home must be on a "
                               f"file system with flock support)") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
