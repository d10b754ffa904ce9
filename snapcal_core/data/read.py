"""Read SNS-layout event files: the header (metadata, state, bank sizes) and the events of all banks.

Every HDF5 failure (garbage bytes, truncation, a dataset that cannot be read) becomes a
:class:`CorruptFileError` naming the file; a missing bank a :class:`MissingBankError` naming the
bank; a missing PV a :class:`MissingLogError` naming the PV.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from snapcal_core.data.nexus import BANK_NAMES, PIXEL_MODE_ATTR
from snapcal_core.data.state import read_state
from snapcal_core.errors import CorruptFileError, MissingBankError, RunNotFoundError, SnapcalError
from snapcal_core.models import DetectorState

#: ``event_time_offset`` units -> factor to microseconds (absent units mean microseconds, as at SNS).
_TOF_UNIT_TO_US = {"microsecond": 1.0, "microseconds": 1.0, "us": 1.0, "nanosecond": 1e-3, "ns": 1e-3,
                   "millisecond": 1e3, "ms": 1e3, "second": 1e6, "s": 1e6}


@dataclass(frozen=True)
class FileHeader:
    """Everything of an event file except its events."""

    path: Path
    run_number: int | None
    title: str
    start_time: str
    end_time: str
    duration_s: float
    proton_charge: float
    state: DetectorState
    lite: bool | None  # from the ``pixel_mode`` attribute; None when the file does not say
    bank_sizes: tuple[int, ...]  # events per bank, in BANK_NAMES order

    @property
    def n_events(self) -> int:
        return int(sum(self.bank_sizes))


@contextmanager
def open_event_file(path: Path | str) -> Iterator[h5py.Group]:
    """``/entry`` of an event file; typed errors for a missing, unreadable or non-NeXus file."""
    path = Path(path)
    if not path.is_file():
        raise RunNotFoundError(f"event file {path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(f"cannot open event file {path} as HDF5 (truncated or not HDF5): {exc}") from exc
    try:
        if not isinstance(f.get("entry"), h5py.Group):
            raise CorruptFileError(f"{path} has no /entry group: not a NeXus event file")
        yield f["entry"]
    except SnapcalError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CorruptFileError(f"cannot read event file {path}: {exc}") from exc
    finally:
        try:
            f.close()
        except Exception:  # noqa: BLE001 - a broken file may fail to close; the error above is the one to report
            pass


def _scalar(entry: h5py.Group, name: str) -> object | None:
    if name not in entry:
        return None
    value = np.asarray(entry[name][()]).ravel()
    if not value.size:
        return None
    item = value[0]
    return item.decode(errors="replace") if isinstance(item, bytes) else item


def _text(entry: h5py.Group, name: str) -> str:
    value = _scalar(entry, name)
    return "" if value is None else str(value)


def _run_number(entry: h5py.Group) -> int | None:
    text = _text(entry, "run_number").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _pixel_mode(entry: h5py.Group) -> bool | None:
    mode = entry.attrs.get(PIXEL_MODE_ATTR)
    if mode is None:
        return None
    return (mode.decode() if isinstance(mode, bytes) else str(mode)) == "lite"


def bank_datasets(entry: h5py.Group, path: Path) -> list[tuple[h5py.Dataset, h5py.Dataset]]:
    """``(event_id, event_time_offset)`` of every bank in panel order; MissingBankError names the bank."""
    out = []
    for name in BANK_NAMES:
        group = entry.get(f"{name}_events")
        ids = group.get("event_id") if isinstance(group, h5py.Group) else None
        tofs = group.get("event_time_offset") if isinstance(group, h5py.Group) else None
        if not isinstance(ids, h5py.Dataset) or not isinstance(tofs, h5py.Dataset):
            raise MissingBankError(f"{path}: bank '{name}_events' (with event_id and event_time_offset) is missing")
        if ids.ndim != 1 or ids.shape != tofs.shape:
            raise MissingBankError(
                f"{path}: bank '{name}_events' has event_id {ids.shape} and event_time_offset {tofs.shape}"
            )
        out.append((ids, tofs))
    return out


def _header(entry: h5py.Group, path: Path) -> FileHeader:
    banks = bank_datasets(entry, path)
    duration = _scalar(entry, "duration")
    charge = _scalar(entry, "proton_charge")
    return FileHeader(
        path=path, run_number=_run_number(entry), title=_text(entry, "title"),
        start_time=_text(entry, "start_time"), end_time=_text(entry, "end_time"),
        duration_s=float(duration) if duration is not None else 0.0,
        proton_charge=float(charge) if charge is not None else 0.0,
        state=read_state(entry, source=str(path)), lite=_pixel_mode(entry),
        bank_sizes=tuple(int(ids.shape[0]) for ids, _ in banks),
    )


def read_header(path: Path | str) -> FileHeader:
    """Metadata, detector state and bank sizes of an event file, without reading any event."""
    with open_event_file(path) as entry:
        return _header(entry, Path(path))


def _tof_factor(tofs: h5py.Dataset, path: Path) -> float:
    unit = tofs.attrs.get("units", b"microsecond")
    unit = (unit.decode() if isinstance(unit, bytes) else str(unit)).strip().lower()
    if unit not in _TOF_UNIT_TO_US:
        raise CorruptFileError(f"{path}: {tofs.name} has units {unit!r}; expected a time unit")
    return _TOF_UNIT_TO_US[unit]


def read_events(path: Path | str) -> tuple[FileHeader, np.ndarray, np.ndarray]:
    """Header plus the ids (uint32) and TOFs (float32, us) of all banks, bank after bank.

    Each bank is read straight into its slice of two preallocated arrays (no concatenation).
    """
    path = Path(path)
    with open_event_file(path) as entry:
        header = _header(entry, path)
        ids = np.empty(header.n_events, dtype=np.uint32)
        tof_us = np.empty(header.n_events, dtype=np.float32)
        start = 0
        for (ds_ids, ds_tofs), n in zip(bank_datasets(entry, path), header.bank_sizes):
            if n:
                ds_ids.read_direct(ids, dest_sel=np.s_[start : start + n])
                ds_tofs.read_direct(tof_us, dest_sel=np.s_[start : start + n])
                factor = _tof_factor(ds_tofs, path)
                if factor != 1.0:
                    tof_us[start : start + n] *= np.float32(factor)
            start += n
    return header, ids, tof_us
