"""Find raw files under a facility tree, tell when they have settled, and read their identity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from snapcal_core.data.read import open_event_file, read_header
from snapcal_core.errors import SnapcalError
from snapcal_core.watch.errors import UnreadyFileError

#: A raw file name (not the Lite copy, the truth file or a writer's hidden ``.partial`` file).
RAW_NAME = re.compile(r"SNAP_(\d+)\.nxs\.h5")
IPTS_NAME = re.compile(r"IPTS-(\d+)")
#: Globs, relative to the watched root, of raw files: root = data root, or root = its ``SNAP`` folder.
RAW_GLOBS = ("SNAP/IPTS-*/nexus/SNAP_*.nxs.h5", "IPTS-*/nexus/SNAP_*.nxs.h5")


@dataclass(frozen=True)
class Candidate:
    """A raw file found in the tree, with the run and IPTS its path names."""

    path: Path
    run_number: int
    ipts: int


def candidate_of(path: Path) -> Candidate | None:
    """The candidate of a path laid out as ``IPTS-<n>/nexus/SNAP_<run>.nxs.h5``, else None."""
    name, ipts = RAW_NAME.fullmatch(path.name), IPTS_NAME.fullmatch(path.parent.parent.name)
    if name is None or ipts is None or path.parent.name != "nexus" or int(name[1]) <= 0 or int(ipts[1]) <= 0:
        return None
    return Candidate(path=path, run_number=int(name[1]), ipts=int(ipts[1]))


def find_candidates(root: Path) -> list[Candidate]:
    """Every raw file under ``root``, by run number then path (deterministic order)."""
    found = {c.path: c for pattern in RAW_GLOBS for p in Path(root).glob(pattern) if (c := candidate_of(p))}
    return sorted(found.values(), key=lambda c: (c.run_number, str(c.path)))


Signature = tuple[int, int, int]  # (inode, size in bytes, mtime in ns)


class SettleTracker:
    """Remembers when each file's signature last changed; settled = unchanged for ``settle_s``."""

    def __init__(self, settle_s: float) -> None:
        self.settle_s = settle_s
        self._since: dict[Path, tuple[Signature, float]] = {}

    def observe(self, path: Path, signature: Signature, now: float) -> bool:
        """Record the signature seen at ``now``; True when it has not changed for ``settle_s``."""
        previous = self._since.get(path)
        if previous is None or previous[0] != signature:
            self._since[path] = (signature, now)
            return self.settle_s <= 0
        return now - previous[1] >= self.settle_s

    def restart(self, path: Path, now: float) -> None:
        """Make the file wait another ``settle_s`` (after a failed read) before it is read again."""
        if path in self._since:
            self._since[path] = (self._since[path][0], now)

    def forget(self, path: Path) -> None:
        self._since.pop(path, None)

    def keep_only(self, paths: set[Path]) -> None:
        """Drop files that have disappeared from the tree."""
        for path in set(self._since) - paths:
            del self._since[path]


def _text(entry: h5py.Group, name: str, path: Path) -> str:
    value = entry.get(name)
    if not isinstance(value, h5py.Dataset):
        raise UnreadyFileError(f"{path} has no /entry/{name} yet")
    values = np.asarray(value[()]).ravel()
    if not values.size:
        return ""
    item = values[0]
    return (item.decode(errors="replace") if isinstance(item, bytes) else str(item)).strip()


def read_identity(path: Path) -> tuple[int, str]:
    """``(run_number, title)`` of a raw file; :class:`UnreadyFileError` while it is partial or unreadable."""
    try:
        with open_event_file(path) as entry:
            run_text, title = _text(entry, "run_number", path), _text(entry, "title", path)
    except UnreadyFileError:
        raise
    except (SnapcalError, OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise UnreadyFileError(f"{path} is not a readable NeXus file yet: {exc}") from exc
    if not run_text.isdigit() or int(run_text) <= 0:
        raise UnreadyFileError(f"{path}: /entry/run_number {run_text!r} is not a positive integer")
    return int(run_text), title


def _read_through(dataset: h5py.Dataset, *, n_events: int, slice_events: int, path: Path) -> None:
    try:
        for start in range(0, n_events, slice_events):
            dataset[start : start + slice_events]
    except (OSError, ValueError, RuntimeError) as exc:
        raise UnreadyFileError(f"{path}: {dataset.name} cannot be read: {exc}") from exc


def verify_events(path: Path, *, slice_events: int = 1 << 22) -> None:
    """Read the header (banks, DAS logs of the state) and every science event, a slice at a time.

    :class:`UnreadyFileError` when any of it cannot be read (a truncated or damaged chunk, a
    missing PV, banks whose fields disagree), so a corrupt run is never handed to a calibration.
    Memory stays at one slice (``slice_events`` events) whatever the file's size.
    """
    try:
        header = read_header(path)
        with open_event_file(path) as entry:
            for bank, n_events in zip(header.bank_names, header.bank_sizes):
                for field in ("event_id", "event_time_offset") if n_events else ():
                    _read_through(entry[bank][field], n_events=n_events, slice_events=slice_events, path=path)
    except UnreadyFileError:
        raise
    except (SnapcalError, OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise UnreadyFileError(f"{path}: its events cannot be read: {exc}") from exc
