"""The cropping pass: every unit of a file inflated, judged and written once into the final arrays.

Per unit (:mod:`~snapcal_core.data.event_pass`), on the worker threads:

1. *fetch*: its stored chunks read and inflated (the costly part; it needs no band);
2. *judge*: each event's keep flag (:func:`~snapcal_core.data.band_kernel.keep_words`: band,
   prompt pulse, ids beyond the instrument);
3. *place*: the unit's first output position, the kept events of the units before it
   (:class:`~snapcal_core.data.event_pass.Sequencer`, in unit order);
4. *store*: the kept events decoded once more and written straight into the final arrays, Lite
   ids and pulses included (:func:`~snapcal_core.data.band_kernel.store_kept`).

The band comes from the calling thread, worked out while the workers fetch (``band``: the state's
band, and the pixel screening from the counts of the ids pass): until it is there, a worker
fetches ahead up to :data:`FETCH_AHEAD_EVENTS`, so the cores keep inflating.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, cast

import numpy as np

from snapcal_core.data.band_kernel import Band, keep_words, store_kept
from snapcal_core.data.chunks import ChunkFile, DatasetReader, Words, plain_words
from snapcal_core.data.event_pass import BankReaders, Piece, Sequencer, plan_units, run_workers

#: Events a worker may hold inflated while the band is being worked out (~8 bytes each).
FETCH_AHEAD_EVENTS = 16 << 20


@dataclass
class Cropped:
    """What :func:`crop_into` kept (the first ``n_kept`` events of its arrays) and dropped."""

    n_kept: int = 0
    n_bad: int = 0  # ids beyond the band's pixels
    n_prompt: int = 0  # in band but in a prompt pulse


class _Part(NamedTuple):
    """A piece of a unit: its events' Words (ids None: in the final array, read by the ids pass)."""

    bank: BankReaders
    piece: Piece
    ids: Words | None
    ids_first: int
    tofs: Words
    tofs_first: int


class _Buffers:
    """One worker's buffers for the unit it judges and stores: its ids set aside, its keep flags."""

    def __init__(self, unit_events: int) -> None:
        self.ids = np.empty(unit_events, np.uint32)
        self.keep = np.empty(unit_events, np.uint8)


def _fetch(cf: ChunkFile, bank: BankReaders, piece: Piece, *, ids_read: bool) -> _Part:
    """One piece read and inflated (datasets read through h5py into arrays of their own)."""
    def words(reader: DatasetReader | None) -> tuple[Words, int]:
        assert reader is not None  # a bank with events
        return cf.words(reader, piece.start, piece.n, np.empty(piece.n if reader.via_h5py else 0, reader.dtype))

    ids, ids_first = (None, 0) if ids_read else words(bank.ids)
    tofs, tofs_first = words(bank.tofs)
    return _Part(bank, piece, ids, ids_first, tofs, tofs_first)


class _Unit(NamedTuple):
    number: int  # the unit's index in the plan (a field named ``index`` would hide tuple.index)
    parts: list[_Part]
    n_events: int


def _judge(unit: _Unit, band: Band, pixel: np.ndarray, buffers: _Buffers) -> tuple[list[_Part], np.ndarray]:
    """Keep flags of the unit's events into ``buffers.keep``. Returns the parts, their ids set
    aside if they were in ``pixel`` (later units may overwrite them there once this one is
    placed), and per part ``(n_kept, n_bad, n_prompt, last)`` of :func:`keep_words`."""
    parts, found, at = [], [], 0
    for part in unit.parts:
        bank, n = part.bank, part.piece.n
        aside = buffers.ids[at : at + n] if part.ids is None else buffers.ids[:0]
        ids = plain_words(pixel[bank.first_event + part.piece.start :][:n]) if part.ids is None else part.ids
        found.append(keep_words(ids, part.ids_first, part.tofs, part.tofs_first, n, np.float32(bank.tof_scale), band,
                                buffers.keep[at : at + n], aside))
        parts.append(part._replace(ids=plain_words(aside), ids_first=0) if part.ids is None else part)
        at += n
    return parts, np.array(found, dtype=np.int64).reshape(-1, 4)


def _store(parts: list[_Part], last: np.ndarray, band: Band, buffers: _Buffers,
           out: tuple[np.ndarray, np.ndarray, np.ndarray],
           write: int) -> None:
    """The unit's kept events written from ``write`` on (each part up to its last kept event)."""
    at = 0
    for part, n_stored in zip(parts, last):
        bank, piece = part.bank, part.piece
        assert part.ids is not None  # _judge set every part's ids
        write = store_kept(part.ids, part.ids_first, part.tofs, part.tofs_first, int(n_stored),
                           np.float32(bank.tof_scale), buffers.keep[at : at + piece.n], band.to_lite, bank.pulse_start,
                           bank.pulse_table_index, piece.start, *out, write)
        at += piece.n


def crop_into(cf: ChunkFile, banks: tuple[BankReaders, ...], band: Callable[[], Band], *, pixel: np.ndarray,
              tof_us: np.ndarray, pulse: np.ndarray, ids_read: bool) -> Cropped:
    """Crop every bank's events into the first ``n_kept`` entries of ``pixel``, ``tof_us`` and
    ``pulse`` (size 0: no pulses), in file order.

    ``band()`` runs on this thread while the workers fetch; its :class:`Band` is the crop.
    ``ids_read``: ``pixel`` already holds every event's id at its position
    (:func:`~snapcal_core.data.event_pass.read_into`); only the TOFs are then inflated.
    """
    banks, units = plan_units(banks)
    sequencer = Sequencer(len(units))
    unit_events = max((sum(p.n for p in u) for u in units), default=0)
    result, lock = Cropped(), threading.Lock()
    out = (pixel, tof_us, pulse)

    def finish(unit: _Unit, buffers: _Buffers) -> None:
        crop = cast(Band, sequencer.value(wait=True))  # what band() returned, published by run_workers
        parts, found = _judge(unit, crop, pixel, buffers)
        write = sequencer.place(unit.number, int(found[:, 0].sum()))
        _store(parts, found[:, 3], crop, buffers, out, write)
        with lock:
            result.n_bad += int(found[:, 1].sum())
            result.n_prompt += int(found[:, 2].sum())

    def loop() -> None:
        buffers, held = _Buffers(unit_events), 0
        ahead: deque[_Unit] = deque()
        while (index := sequencer.take()) is not None:
            ahead.append(_Unit(index, [_fetch(cf, banks[p.bank], p, ids_read=ids_read) for p in units[index]],
                               sum(p.n for p in units[index])))
            held += ahead[-1].n_events
            while ahead and (held >= FETCH_AHEAD_EVENTS or sequencer.value(wait=False) is not None):
                held -= ahead[0].n_events
                finish(ahead.popleft(), buffers)
        while ahead:
            finish(ahead.popleft(), buffers)

    run_workers(sequencer, loop, path=cf.path, alongside=band)
    result.n_kept = sequencer.n_placed_events
    return result
