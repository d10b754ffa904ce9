"""Passes over a file's events on a pool of threads, unit by unit, into arrays allocated once.

The banks' events are cut into pieces that lie within one stored chunk of each dataset
(:mod:`~snapcal_core.data.chunks`), and consecutive pieces into units of about
:data:`UNIT_EVENTS`. Each worker thread takes the next unit and reads and inflates its chunks
(ISA-L and ``pread`` release the GIL, so the threads inflate at the same time): here straight
into the final arrays (:func:`read_into`), in :mod:`~snapcal_core.data.crop_pass` cropped in
the same pass. While the workers run, the calling thread may do other work of the load
(``alongside``: the state's band, the pixel screening), so no core waits for it.

Threads: ``numba.get_num_threads()`` of the calling thread (all cores unless
:func:`snapcal_core.threads.numba_threads` limits it); the kernels themselves are serial.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import numba
import numpy as np

from snapcal_core.data.chunks import ChunkFile, DatasetReader, decode_words, plain_words
from snapcal_core.data.pulses import NO_PULSE
from snapcal_core.errors import CorruptFileError

#: Events per unit of work (a unit is at least one piece: a larger chunk is a unit of its own).
UNIT_EVENTS = 1 << 20
#: Decoded events counted at a time (stays in the L1 cache).
_COUNT_BLOCK_EVENTS = 4096
#: Errors of HDF5 / the file while reading, reported as a corrupt file.
_READ_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError)


@dataclass(frozen=True)
class BankReaders:
    """One science bank: where its events go in the file's arrays and how to read them."""

    name: str
    first_event: int  # position of the bank's first event in the file's concatenated arrays
    n_events: int
    ids: DatasetReader | None  # None for an empty bank
    tofs: DatasetReader | None
    tof_scale: float = 1.0  # factor of the file's TOF unit to microseconds
    #: Pulses for :func:`~snapcal_core.data.band_kernel.crop_words`: the first event of each pulse
    #: (int64) and the pulse's position in the file's pulse table (uint32); no pulses: every event NO_PULSE.
    pulse_start: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    pulse_table_index: np.ndarray = field(default_factory=lambda: np.full(1, NO_PULSE, np.uint32))


class Piece(NamedTuple):
    """Events ``[start, start + n)`` of bank ``bank`` (an index), inside one chunk of each dataset."""

    bank: int
    start: int
    n: int


def _aligned(bank: BankReaders) -> tuple[DatasetReader, DatasetReader, int]:
    """Readers whose chunks a piece can follow, and the piece length: the chunk length when both
    datasets are chunked alike; h5py reads any range, so one dataset read through it follows the other."""
    ids, tofs = bank.ids, bank.tofs
    assert ids is not None and tofs is not None  # a bank with events
    if ids.block_events == tofs.block_events:
        return ids, tofs, ids.block_events
    if ids.via_h5py or tofs.via_h5py:
        return ids, tofs, (tofs if ids.via_h5py else ids).block_events
    return ids.via_h5py_only(), tofs.via_h5py_only(), max(ids.block_events, tofs.block_events)


def plan_units(banks: tuple[BankReaders, ...]) -> tuple[tuple[BankReaders, ...], list[list[Piece]]]:
    """The banks with the readers the pieces follow, and the units of work (lists of pieces, file order)."""
    aligned: list[BankReaders] = []
    units: list[list[Piece]] = []
    unit: list[Piece] = []
    size = 0
    for k, bank in enumerate(banks):
        if not bank.n_events:
            aligned.append(bank)
            continue
        ids, tofs, step = _aligned(bank)
        aligned.append(BankReaders(bank.name, bank.first_event, bank.n_events, ids, tofs, bank.tof_scale,
                                   bank.pulse_start, bank.pulse_table_index))
        for start in range(0, bank.n_events, step):
            n = min(step, bank.n_events - start)
            if unit and size + n > UNIT_EVENTS:
                units.append(unit)
                unit, size = [], 0
            unit.append(Piece(k, start, n))
            size += n
    if unit:
        units.append(unit)
    return tuple(aligned), units


class _Aborted(Exception):
    """Another worker failed: this one stops."""


class Sequencer:
    """The workers' shared state: hands out the units in order, places each cropped unit's kept
    events after those of the units before it, and passes on what the calling thread worked out
    alongside; after a failure every call raises :class:`_Aborted`."""

    def __init__(self, n_units: int) -> None:
        self._cv = threading.Condition()
        self._n_units = n_units
        self._taken = 0
        self._placed = 0
        self._offset = 0
        self._failed = False
        self._value: object | None = None
        self._has_value = False

    def take(self) -> int | None:
        """The next unit to work on; None when all are taken or a worker failed."""
        with self._cv:
            if self._failed or self._taken == self._n_units:
                return None
            self._taken += 1
            return self._taken - 1

    def place(self, unit: int, n_kept: int) -> int:
        """Output position of ``unit``'s ``n_kept`` events, once every unit before it is placed."""
        with self._cv:
            while self._placed != unit and not self._failed:
                self._cv.wait()
            if self._failed:
                raise _Aborted
            offset = self._offset
            self._offset += n_kept
            self._placed += 1
            self._cv.notify_all()
            return offset

    def fail(self) -> None:
        with self._cv:
            self._failed = True
            self._cv.notify_all()

    def publish(self, value: object) -> None:
        """Hand ``value`` (what the calling thread worked out alongside) to the workers."""
        with self._cv:
            self._value, self._has_value = value, True
            self._cv.notify_all()

    def value(self, *, wait: bool) -> object | None:
        """The published value (None if not yet, unless ``wait``); raises :class:`_Aborted` after a failure."""
        with self._cv:
            while wait and not self._has_value and not self._failed:
                self._cv.wait()
            if self._failed:
                raise _Aborted
            return self._value if self._has_value else None

    @property
    def n_placed_events(self) -> int:
        return self._offset


def run_workers(sequencer: Sequencer, loop: Callable[[], None], *, path: str,
                alongside: Callable[[], object] | None = None) -> None:
    """``loop()`` on every worker thread and ``alongside()`` (if given) on this one meanwhile, its
    result published to the workers (:meth:`Sequencer.publish`).

    The first worker error is raised, read errors as a :class:`CorruptFileError` naming the file;
    an error of ``alongside`` stops the workers and is raised as it is.
    """

    def worker() -> None:
        try:
            loop()
        except _Aborted:
            pass
        except BaseException:
            sequencer.fail()
            raise

    def beside() -> None:
        if alongside is not None:
            try:
                sequencer.publish(alongside())
            except BaseException:
                sequencer.fail()
                raise

    n_threads = max(1, numba.get_num_threads())
    if n_threads == 1:
        beside()
        _reraise(worker, path=path)
        return
    with ThreadPoolExecutor(n_threads, thread_name_prefix="snapcal-load") as pool:
        futures = [pool.submit(worker) for _ in range(n_threads)]
        beside()
    for future in futures:
        _reraise(future.result, path=path)


def _reraise(call: Callable[[], object], *, path: str) -> None:
    try:
        call()
    except _READ_ERRORS as exc:
        raise CorruptFileError(f"cannot read event file {path}: {exc}") from exc


def _each_unit(sequencer: Sequencer, work: Callable[[int], None]) -> Callable[[], None]:
    def loop() -> None:
        while (unit := sequencer.take()) is not None:
            work(unit)
    return loop


@numba.njit(nogil=True, cache=True)
def _decode_and_count(data: np.ndarray, stride: int, shuffled: bool, first: int, n: int, out: np.ndarray,
                      counts: np.ndarray) -> None:
    """:func:`decode_words` into ``out`` and add each id below ``counts.size`` to its count."""
    for b in range(0, n, _COUNT_BLOCK_EVENTS):
        m = min(_COUNT_BLOCK_EVENTS, n - b)
        block = out[b : b + m]
        decode_words(data, stride, shuffled, first + b, m, block)
        for k in range(m):
            if block[k] < counts.shape[0]:
                counts[block[k]] += 1


def _read_dataset(cf: ChunkFile, reader: DatasetReader, piece: Piece, out: np.ndarray,
                  counts: np.ndarray | None) -> None:
    """One piece of one dataset decoded into ``out`` (its slice of the final array)."""
    if reader.via_h5py:
        reader.dataset.read_direct(out, source_sel=np.s_[piece.start : piece.start + piece.n])
        words, first = plain_words(out), 0
        if counts is None:
            return
    else:
        words, first = cf.words(reader, piece.start, piece.n, out)
    bits = out.view(np.uint32)
    if counts is None:
        decode_words(words.data, words.stride, words.shuffled, first, piece.n, bits)
    else:
        _decode_and_count(words.data, words.stride, words.shuffled, first, piece.n, bits, counts)


def read_into(cf: ChunkFile, banks: tuple[BankReaders, ...], *, ids: np.ndarray, tof_us: np.ndarray | None,
              counts: np.ndarray | None = None, alongside: Callable[[], object] | None = None) -> None:
    """Every bank's ids into ``ids`` and TOFs (as stored, unscaled) into ``tof_us`` (None: ids only),
    at the banks' positions; with ``counts`` (int64) also the events of each id below its size.
    ``alongside`` runs on this thread meanwhile (:func:`run_workers`)."""
    banks, units = plan_units(banks)
    sequencer = Sequencer(len(units))
    local, per_thread, lock = threading.local(), [], threading.Lock()

    def work(unit: int) -> None:
        if counts is not None and not hasattr(local, "counts"):  # one per thread: allocated (first touched) once
            local.counts = np.zeros(counts.size, np.uint32 if ids.size < 2**32 else np.int64)  # uint32: half the cache
            with lock:
                per_thread.append(local.counts)
        own = getattr(local, "counts", None)
        for piece in units[unit]:
            bank = banks[piece.bank]
            assert bank.ids is not None and bank.tofs is not None  # pieces are of banks with events
            where = np.s_[bank.first_event + piece.start : bank.first_event + piece.start + piece.n]
            _read_dataset(cf, bank.ids, piece, ids[where], own)
            if tof_us is not None:
                _read_dataset(cf, bank.tofs, piece, tof_us[where], None)

    run_workers(sequencer, _each_unit(sequencer, work), path=cf.path, alongside=alongside)
    for own in per_thread:
        counts += own


def iter_pieces(banks: tuple[BankReaders, ...]) -> Iterator[tuple[BankReaders, Piece]]:
    """Every piece of the file in order with its bank (for tests and benchmarks)."""
    banks, units = plan_units(banks)
    for unit in units:
        for piece in unit:
            yield banks[piece.bank], piece
