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

Events are read chunk by chunk on all cores (:mod:`~snapcal_core.data.event_pass`): the stored
chunks straight from the file, inflated by ISA-L (:mod:`~snapcal_core.data.chunks`), or through
h5py for layouts that path does not decode; :func:`event_source` hands the open file to a loader
that crops in the same pass (:func:`snapcal_core.data.load.load_event_file`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from snapcal_core.data.chunks import ChunkFile, dataset_reader
from snapcal_core.data.event_file import attr_text, dataset, open_event_file, unit_factor
from snapcal_core.data.event_pass import BankReaders, read_into
from snapcal_core.data.nexus import BANK_NAMES, PIXEL_MODE_ATTR
from snapcal_core.data.pulses import NO_PULSE, BankPulses, bank_pulses, pulse_table
from snapcal_core.data.state import read_state
from snapcal_core.errors import MissingBankError, NoEventDataError
from snapcal_core.models import DetectorState

__all__ = ["NO_PULSE", "BankPulses", "EventSource", "FileHeader", "RawEvents", "event_groups", "event_source",
           "open_event_file", "read_events", "read_header", "read_pulses", "read_raw_events"]

EVENT_DATA_CLASS = "NXevent_data"
#: Diagnostic event groups of SNS files (events the DAS could not map to a pixel): counted, never used.
ERROR_EVENTS_GROUP = "bank_error_events"
UNMAPPED_EVENTS_GROUP = "bank_unmapped_events"
#: Panel event groups ``bank<N>_events`` -> panel number k (the order of BANK_NAMES).
_PANEL_OF_GROUP = {f"{name}_events": k for k, name in enumerate(BANK_NAMES)}


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


def _scalar(entry: h5py.Group, name: str) -> Any:
    """The first value of a dataset (bytes decoded), or None when it is missing or empty."""
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
    mode = attr_text(entry, PIXEL_MODE_ATTR)
    return None if mode is None else mode == "lite"


def event_groups(entry: h5py.Group) -> dict[str, h5py.Group]:
    """Every ``NX_class = NXevent_data`` group directly under ``/entry``, by name (diagnostic ones too)."""
    out = {}
    for name in entry:
        obj = entry.get(name)  # None for a dangling link
        if isinstance(obj, h5py.Group) and attr_text(obj, "NX_class") == EVENT_DATA_CLASS:
            out[name] = obj
    return out


def _bank_order(name: str) -> tuple[int, str]:
    """Panel banks in panel order, then any other event group by name."""
    return _PANEL_OF_GROUP.get(name, len(BANK_NAMES)), name


def _bank(name: str, group: h5py.Group, path: Path) -> _Bank:
    """One science bank; no ``event_id`` or a zero-length one is an empty bank."""
    ids, tofs = dataset(group, "event_id"), dataset(group, "event_time_offset")
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
        ds = dataset(group, field) if group is not None else None
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


def _first_events(banks: list[_Bank]) -> list[int]:
    first: list[int] = np.cumsum([0] + [b.n_events for b in banks])[:-1].tolist()
    return first


def _pulses(banks: list[_Bank], path: Path) -> tuple[BankPulses, ...]:
    found = (bank_pulses(b.group, bank=b.name, first_event=s, n_events=b.n_events, path=path)
             for b, s in zip(banks, _first_events(banks)))
    return tuple(p for p in found if p is not None)


def _readers(bank: _Bank, *, first_event: int, path: Path) -> BankReaders:
    """How to read one bank (its TOF unit checked); an empty bank has no readers."""
    if not bank.n_events:
        return BankReaders(bank.name, first_event, 0, None, None)
    scale = unit_factor(bank.tofs, default="microsecond", to_us=1.0, path=path)
    return BankReaders(bank.name, first_event, bank.n_events, dataset_reader(bank.ids, np.uint32),
                       dataset_reader(bank.tofs, np.float32), scale)


def _with_pulses(readers: list[BankReaders], pulses: tuple[BankPulses, ...]) -> list[BankReaders]:
    """The readers with each bank's pulses placed in the file's pulse table (:func:`pulse_table`)."""
    _, _, where = pulse_table(pulses)
    of_bank = {p.bank: (p.pulse_starts(), w) for p, w in zip(pulses, where)}
    return [replace(r, pulse_start=of_bank[r.name][0], pulse_table_index=of_bank[r.name][1])
            if r.name in of_bank else r for r in readers]


@dataclass(frozen=True)
class EventSource:
    """An open event file ready to be read: header, the banks' readers, the pulses if asked for."""

    header: FileHeader
    banks: tuple[BankReaders, ...]
    chunk_file: ChunkFile
    pulses: tuple[BankPulses, ...] = ()  # banks with event_time_zero and event_index, when asked for
    pulse_time_s: np.ndarray | None = None  # the file's pulse table (:func:`~snapcal_core.data.pulses.pulse_table`)
    pulse_offset: str = ""


@contextmanager
def event_source(path: Path | str, *, with_pulses: bool = False) -> Iterator[EventSource]:
    """The open file as an :class:`EventSource` for the block (reading errors are typed as in
    :func:`open_event_file`; errors of the block itself pass through unchanged).

    ``with_pulses`` also reads every bank's ``event_time_zero`` and ``event_index`` and places each
    bank's pulses in one pulse table.
    """
    path = Path(path)
    error: BaseException | None = None
    with open_event_file(path) as entry:
        header, banks = _scan(entry, path)
        readers = [_readers(b, first_event=s, path=path) for b, s in zip(banks, _first_events(banks))]
        pulses = _pulses(banks, path) if with_pulses else ()
        table, offset, _ = pulse_table(pulses)
        with ChunkFile(entry.file) as chunk_file:
            source = EventSource(header, tuple(_with_pulses(readers, pulses) if pulses else readers), chunk_file,
                                 pulses, table if with_pulses else None, offset)
            try:
                yield source
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the file is closed
                error = exc
    if error is not None:
        raise error


def _scale_tofs(source: EventSource, tof_us: np.ndarray) -> None:
    for bank in source.banks:
        if bank.n_events and bank.tof_scale != 1.0:
            tof_us[bank.first_event : bank.first_event + bank.n_events] *= np.float32(bank.tof_scale)


def read_source_events(source: EventSource) -> tuple[np.ndarray, np.ndarray]:
    """Ids (uint32) and TOFs (float32, us) of all science banks of an open file, bank after bank,
    decoded straight into two arrays allocated once."""
    ids = np.empty(source.header.n_events, dtype=np.uint32)
    tof_us = np.empty(source.header.n_events, dtype=np.float32)
    read_into(source.chunk_file, source.banks, ids=ids, tof_us=tof_us)
    _scale_tofs(source, tof_us)
    return ids, tof_us


def read_raw_events(path: Path | str, *, with_pulses: bool = False) -> RawEvents:
    """Header plus the ids (uint32) and TOFs (float32, us) of all science banks, bank after bank.

    Each bank is read straight into its slice of two preallocated arrays (no concatenation).
    ``with_pulses`` also reads every bank's ``event_time_zero`` and ``event_index``.
    """
    with event_source(path, with_pulses=with_pulses) as source:
        ids, tof_us = read_source_events(source)
    return RawEvents(header=source.header, event_id=ids, tof_us=tof_us, pulses=source.pulses)


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
