"""The pulses of an event file: when each began (``event_time_zero``) and which events it holds
(``event_index``), per bank, and one pulse-time table for the whole file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from snapcal_core.data.event_file import attr_text, dataset, unit_factor
from snapcal_core.errors import MissingBankError

#: Pulse index of an event whose bank has no ``event_time_zero``/``event_index``.
NO_PULSE = np.iinfo(np.uint32).max


@dataclass(frozen=True)
class BankPulses:
    """The pulses of one bank: when each began and which of the bank's events it holds."""

    bank: str  # event group name, e.g. "bank42_events"
    first_event: int  # position of the bank's first event in the file's concatenated event arrays
    n_events: int
    time_zero_s: np.ndarray  # float64, start of each pulse in seconds after ``offset``
    event_index: np.ndarray  # uint64, first event (within the bank) of each pulse
    offset: str  # ISO time ``time_zero_s`` counts from ('' when the file does not say)

    def pulse_starts(self) -> np.ndarray:
        """First event of each pulse as used (int64, ascending): ``event_index`` clipped to the bank's
        end, and an index going backwards raised to its predecessor (as in Mantid)."""
        start = np.minimum(self.event_index, np.uint64(self.n_events)).astype(np.int64)
        return np.maximum.accumulate(start) if start.size else start

    def events_per_pulse(self) -> np.ndarray:
        """Events of each pulse (int64, sums to ``n_events``).

        Pulse p holds the bank's events ``[start[p], start[p+1])`` (:meth:`pulse_starts`), the last
        pulse up to the bank's end; as in Mantid, events before ``start[0]`` go to pulse 0. So event
        i is in the last pulse p with ``start[p] <= i``, or in pulse 0 if there is none.
        """
        start = self.pulse_starts()
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


def bank_pulses(group: h5py.Group, *, bank: str, first_event: int, n_events: int, path: Path) -> BankPulses | None:
    """The pulses of event group ``group``; None when it has no ``event_time_zero``/``event_index``
    (or no pulse for its events)."""
    times, index = dataset(group, "event_time_zero"), dataset(group, "event_index")
    if times is None or index is None:
        return None
    if times.ndim != 1 or times.shape != index.shape:
        raise MissingBankError(
            f"{path}: {group.name}/event_time_zero {times.shape} and event_index {index.shape} differ in shape"
        )
    if times.shape[0] == 0 and n_events:
        return None
    factor = unit_factor(times, default="second", to_us=1e6, path=path)
    return BankPulses(bank=bank, first_event=first_event, n_events=n_events,
                      time_zero_s=np.asarray(times[()], dtype=np.float64) * factor,
                      event_index=np.asarray(index[()], dtype=np.uint64), offset=attr_text(times, "offset") or "")


def _offset_shift_s(offset: str, *, reference: str) -> float:
    """Seconds from ``reference`` to ``offset`` (ISO times); 0 when equal or either cannot be parsed."""
    if offset == reference:
        return 0.0
    try:
        return (dt.datetime.fromisoformat(offset) - dt.datetime.fromisoformat(reference)).total_seconds()
    except (ValueError, TypeError):
        return 0.0


def _pulse_table(times: list[np.ndarray]) -> np.ndarray:
    """Ascending union of the banks' pulse times (the first bank's array when all banks agree)."""
    first = times[0]
    if all(np.array_equal(t, first) for t in times[1:]) and np.all(first[1:] > first[:-1]):
        return first
    return np.unique(np.concatenate(times))


def pulse_table(pulses: tuple[BankPulses, ...]) -> tuple[np.ndarray, str, list[np.ndarray]]:
    """One pulse-time table for all banks: ``(pulse_time_s, offset, table index of each bank's pulses)``.

    ``pulse_time_s`` is float64 ascending, seconds after ``offset`` (the first bank's
    ``event_time_zero`` offset; banks with another offset are shifted onto it); the list holds, for
    each bank of ``pulses``, the uint32 position in the table of each of its pulses.
    """
    if not pulses:
        return np.empty(0, dtype=np.float64), "", []
    offset = pulses[0].offset
    times = [b.time_zero_s + _offset_shift_s(b.offset, reference=offset) for b in pulses]
    table = _pulse_table(times)
    return table, offset, [np.searchsorted(table, t).astype(np.uint32) for t in times]


def event_pulses(pulses: tuple[BankPulses, ...], *, n_events: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Each event's pulse as an index into one pulse-time table shared by all banks.

    Returns ``(pulse_index, pulse_time_s, offset)``: ``pulse_index`` uint32 per event of the
    file's concatenated arrays (:data:`NO_PULSE` for a bank without pulses), ``pulse_time_s`` and
    ``offset`` as in :func:`pulse_table`. ``pulse_time_s[pulse_index]`` is each event's pulse time.
    """
    index = np.full(n_events, NO_PULSE, dtype=np.uint32)
    table, offset, where = pulse_table(pulses)
    for bank, bank_where in zip(pulses, where):
        index[bank.first_event : bank.first_event + bank.n_events] = np.repeat(bank_where, bank.events_per_pulse())
    return index, table, offset
