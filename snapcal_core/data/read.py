"""Read SNS event files as the facility writes them: the header and the events of every bank.

Event groups are the groups directly under ``/entry`` whose ``NX_class`` attribute is
``NXevent_data`` (bytes or str), as Mantid's LoadEventNexus finds them, not a fixed list of
names: a panel may be absent, a bank may be empty (zero-length datasets, or no ``event_id`` at
all), and monitors (``NXmonitor``) are not event groups. ``bank_error_events`` and
``bank_unmapped_events`` are counted in the header and never read as science. The pulses
(``event_time_zero``, ``event_index``) are read only when asked for (:func:`read_pulses`,
``read_raw_events(..., with_pulses=True)``).

Every HDF5 failure (garbage bytes, truncation, a dataset that cannot be read) becomes a
:class:`CorruptFileError` naming the file; a file without any science event group a
:class:`NoEventDataError`; a bank whose fields disagree a :class:`MissingBankError` naming the
file, the group and the fields; a missing PV a :class:`MissingLogError` naming the PV.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import h5py
import numpy as np

from snapcal_core.data.nexus import BANK_NAMES, PIXEL_MODE_ATTR
from snapcal_core.data.state import read_state
from snapcal_core.errors import (
    CorruptFileError,
    MissingBankError,
    NoEventDataError,
    RunNotFoundError,
    SnapcalError,
)
from snapcal_core.models import DetectorState

EVENT_DATA_CLASS = "NXevent_data"
#: Diagnostic event groups of SNS files (events the DAS could not map to a pixel): counted, never used.
ERROR_EVENTS_GROUP = "bank_error_events"
UNMAPPED_EVENTS_GROUP = "bank_unmapped_events"
#: Pulse index of an event whose bank has no ``event_time_zero``/``event_index``.
NO_PULSE = np.iinfo(np.uint32).max
#: Panel event groups ``bank<N>_events`` -> panel number k (the order of BANK_NAMES).
_PANEL_OF_GROUP = {f"{name}_events": k for k, name in enumerate(BANK_NAMES)}
#: Time units -> factor to microseconds (absent units mean microseconds for TOF, seconds for pulses).
_TIME_UNIT_TO_US = {"microsecond": 1.0, "microseconds": 1.0, "us": 1.0, "nanosecond": 1e-3, "nanoseconds": 1e-3,
                    "ns": 1e-3, "millisecond": 1e3, "milliseconds": 1e3, "ms": 1e3, "second": 1e6, "seconds": 1e6,
                    "s": 1e6}


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
    bank_sizes: tuple[int, ...]  # events per science bank, in ``bank_names`` order
    bank_names: tuple[str, ...] = ()  # science event groups: panel banks in panel order, then others by name
    n_error_events: int = 0  # events in ``bank_error_events`` (not used)
    n_unmapped_events: int = 0  # events in ``bank_unmapped_events`` (not used)

    @property
    def n_events(self) -> int:
        """Events of the science banks (diagnostic groups excluded)."""
        return int(sum(self.bank_sizes))

    @property
    def missing_banks(self) -> tuple[str, ...]:
        """Panel event groups ``bank<N>_events`` absent from the file, in panel order."""
        return tuple(name for name in _PANEL_OF_GROUP if name not in self.bank_names)

    @property
    def empty_banks(self) -> tuple[str, ...]:
        """Science event groups present but without events."""
        return tuple(name for name, n in zip(self.bank_names, self.bank_sizes) if n == 0)


@dataclass(frozen=True)
class BankPulses:
    """The pulses of one bank: when each began and which of the bank's events it holds."""

    bank: str  # event group name, e.g. "bank42_events"
    first_event: int  # position of the bank's first event in the file's concatenated event arrays
    n_events: int
    time_zero_s: np.ndarray  # float64, start of each pulse in seconds after ``offset``
    event_index: np.ndarray  # uint64, first event (within the bank) of each pulse
    offset: str  # ISO time ``time_zero_s`` counts from ('' when the file does not say)

    def events_per_pulse(self) -> np.ndarray:
        """Events of each pulse (int64, sums to ``n_events``).

        Pulse p holds the bank's events ``[event_index[p], event_index[p+1])``, the last pulse up
        to the bank's end. As in Mantid, events before ``event_index[0]`` go to pulse 0; an index
        beyond the bank is clipped to its end and one going backwards to its predecessor.
        """
        start = np.minimum(self.event_index, np.uint64(self.n_events)).astype(np.int64)
        start = np.maximum.accumulate(start) if start.size else start
        counts = np.diff(start, append=np.int64(self.n_events))
        if counts.size:
            counts[0] += start[0]
        return counts

    def pulse_of_event(self) -> np.ndarray:
        """Pulse number (uint32, into ``time_zero_s``) of each of the bank's events, in O(n).

        ``time_zero_s[pulse_of_event()]`` is each event's pulse time.
        """
        counts = self.events_per_pulse()
        return np.repeat(np.arange(counts.size, dtype=np.uint32), counts)


@dataclass(frozen=True)
class RawEvents:
    """Every science event of a file, uncropped: ids and TOFs bank after bank, and the pulses if read."""

    header: FileHeader
    event_id: np.ndarray  # uint32, as in the file (ids beyond the instrument included)
    tof_us: np.ndarray  # float32
    pulses: tuple[BankPulses, ...] = ()  # banks with event_time_zero and event_index, when asked for


class _Bank(NamedTuple):
    """A science event group and its event datasets (None for an empty bank)."""

    name: str
    group: h5py.Group
    ids: h5py.Dataset | None
    tofs: h5py.Dataset | None
    n_events: int


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


def _attr_text(obj: h5py.HLObject, name: str) -> str | None:
    """A string attribute as str, whether stored as bytes, str or a one-element array; None if absent."""
    value = obj.attrs.get(name)
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else ""
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _run_number(entry: h5py.Group) -> int | None:
    text = _text(entry, "run_number").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _pixel_mode(entry: h5py.Group) -> bool | None:
    mode = _attr_text(entry, PIXEL_MODE_ATTR)
    return None if mode is None else mode == "lite"


def event_groups(entry: h5py.Group) -> dict[str, h5py.Group]:
    """Every ``NX_class = NXevent_data`` group directly under ``/entry``, by name (diagnostic ones too)."""
    out = {}
    for name in entry:
        obj = entry.get(name)  # None for a dangling link
        if isinstance(obj, h5py.Group) and _attr_text(obj, "NX_class") == EVENT_DATA_CLASS:
            out[name] = obj
    return out


def _bank_order(name: str) -> tuple[int, str]:
    """Panel banks in panel order, then any other event group by name."""
    return _PANEL_OF_GROUP.get(name, len(BANK_NAMES)), name


def _dataset(group: h5py.Group, name: str) -> h5py.Dataset | None:
    obj = group.get(name)
    return obj if isinstance(obj, h5py.Dataset) else None


def _bank(name: str, group: h5py.Group, path: Path) -> _Bank:
    """One science bank; no ``event_id`` or a zero-length one is an empty bank."""
    ids, tofs = _dataset(group, "event_id"), _dataset(group, "event_time_offset")
    if ids is None or ids.shape == (0,):
        return _Bank(name, group, None, None, 0)
    if ids.ndim != 1:
        raise MissingBankError(f"{path}: {group.name}/event_id has shape {ids.shape}; expected one dimension")
    if tofs is None or tofs.shape != ids.shape:
        got = "is missing" if tofs is None else f"has shape {tofs.shape}"
        raise MissingBankError(f"{path}: {group.name}/event_time_offset {got}, but event_id has {ids.shape[0]} events")
    return _Bank(name, group, ids, tofs, int(ids.shape[0]))


def _diagnostic_events(group: h5py.Group | None) -> int:
    """Events in a diagnostic group: length of its ``event_id`` (else ``event_time_offset``); 0 if absent."""
    for field in ("event_id", "event_time_offset"):
        ds = _dataset(group, field) if group is not None else None
        if ds is not None and ds.ndim == 1:
            return int(ds.shape[0])
    return 0


def _science_banks(groups: dict[str, h5py.Group], path: Path) -> list[_Bank]:
    names = sorted((n for n in groups if n not in (ERROR_EVENTS_GROUP, UNMAPPED_EVENTS_GROUP)), key=_bank_order)
    if not names:
        found = f" (only {', '.join(sorted(groups))})" if groups else ""
        raise NoEventDataError(
            f"{path}: /entry holds no NXevent_data group with detector events{found}; "
            "event groups are found by their NX_class attribute"
        )
    return [_bank(name, groups[name], path) for name in names]


def _scan(entry: h5py.Group, path: Path) -> tuple[FileHeader, list[_Bank]]:
    """Header and science banks of an open file (reads no event)."""
    groups = event_groups(entry)
    banks = _science_banks(groups, path)
    duration = _scalar(entry, "duration")
    charge = _scalar(entry, "proton_charge")
    header = FileHeader(
        path=path, run_number=_run_number(entry), title=_text(entry, "title"),
        start_time=_text(entry, "start_time"), end_time=_text(entry, "end_time"),
        duration_s=float(duration) if duration is not None else 0.0,
        proton_charge=float(charge) if charge is not None else 0.0,
        state=read_state(entry, source=str(path)), lite=_pixel_mode(entry),
        bank_sizes=tuple(b.n_events for b in banks), bank_names=tuple(b.name for b in banks),
        n_error_events=_diagnostic_events(groups.get(ERROR_EVENTS_GROUP)),
        n_unmapped_events=_diagnostic_events(groups.get(UNMAPPED_EVENTS_GROUP)),
    )
    return header, banks


def read_header(path: Path | str) -> FileHeader:
    """Metadata, detector state, bank names and sizes, diagnostic counts of an event file; reads no event."""
    with open_event_file(path) as entry:
        return _scan(entry, Path(path))[0]


def _unit_factor(ds: h5py.Dataset, *, default: str, to_us: float, path: Path) -> float:
    """Factor from ``ds``'s ``units`` attribute (``default`` when absent) to microseconds / ``to_us``."""
    unit = (_attr_text(ds, "units") or default).strip().lower()
    if unit not in _TIME_UNIT_TO_US:
        raise CorruptFileError(f"{path}: {ds.name} has units {unit!r}; expected a time unit")
    return _TIME_UNIT_TO_US[unit] / to_us


def _read_bank(bank: _Bank, ids: np.ndarray, tof_us: np.ndarray, *, start: int, path: Path) -> None:
    """Read one bank straight into ``ids[start:]`` / ``tof_us[start:]`` (TOF converted to us)."""
    if not bank.n_events:
        return
    where = np.s_[start : start + bank.n_events]
    bank.ids.read_direct(ids, dest_sel=where)
    bank.tofs.read_direct(tof_us, dest_sel=where)
    factor = _unit_factor(bank.tofs, default="microsecond", to_us=1.0, path=path)
    if factor != 1.0:
        tof_us[where] *= np.float32(factor)


def _bank_pulses(bank: _Bank, *, first_event: int, path: Path) -> BankPulses | None:
    """The bank's pulses; None when it has no ``event_time_zero``/``event_index`` (or no pulse for its events)."""
    times, index = _dataset(bank.group, "event_time_zero"), _dataset(bank.group, "event_index")
    if times is None or index is None:
        return None
    if times.ndim != 1 or times.shape != index.shape:
        raise MissingBankError(
            f"{path}: {bank.group.name}/event_time_zero {times.shape} and event_index {index.shape} differ in shape"
        )
    if times.shape[0] == 0 and bank.n_events:
        return None
    factor = _unit_factor(times, default="second", to_us=1e6, path=path)
    return BankPulses(bank=bank.name, first_event=first_event, n_events=bank.n_events,
                      time_zero_s=np.asarray(times[()], dtype=np.float64) * factor,
                      event_index=np.asarray(index[()], dtype=np.uint64), offset=_attr_text(times, "offset") or "")


def _first_events(banks: list[_Bank]) -> list[int]:
    return np.cumsum([0] + [b.n_events for b in banks])[:-1].tolist()


def _pulses(banks: list[_Bank], path: Path) -> tuple[BankPulses, ...]:
    found = (_bank_pulses(b, first_event=s, path=path) for b, s in zip(banks, _first_events(banks)))
    return tuple(p for p in found if p is not None)


def read_raw_events(path: Path | str, *, with_pulses: bool = False) -> RawEvents:
    """Header plus the ids (uint32) and TOFs (float32, us) of all science banks, bank after bank.

    Each bank is read straight into its slice of two preallocated arrays (no concatenation).
    ``with_pulses`` also reads every bank's ``event_time_zero`` and ``event_index``.
    """
    path = Path(path)
    with open_event_file(path) as entry:
        header, banks = _scan(entry, path)
        ids = np.empty(header.n_events, dtype=np.uint32)
        tof_us = np.empty(header.n_events, dtype=np.float32)
        for bank, start in zip(banks, _first_events(banks)):
            _read_bank(bank, ids, tof_us, start=start, path=path)
        pulses = _pulses(banks, path) if with_pulses else ()
    return RawEvents(header=header, event_id=ids, tof_us=tof_us, pulses=pulses)


def read_events(path: Path | str) -> tuple[FileHeader, np.ndarray, np.ndarray]:
    """Header, ids (uint32) and TOFs (float32, us) of all science banks; see :func:`read_raw_events`."""
    raw = read_raw_events(path)
    return raw.header, raw.event_id, raw.tof_us


def read_pulses(path: Path | str) -> tuple[BankPulses, ...]:
    """The pulses of every science bank that has them, without reading any event."""
    path = Path(path)
    with open_event_file(path) as entry:
        _, banks = _scan(entry, path)
        return _pulses(banks, path)
