"""The stored chunks of an event dataset, read straight from the file and inflated by ISA-L.

HDF5 facts this relies on (HDF5 file format spec, "Data Storage - Filter Pipeline"; H5Dchunk_iter):

- A chunked dataset is stored chunk by chunk, every chunk whole (``chunk_events`` elements), the
  last, partial one too: its elements beyond the dataset's end are fill and are not used.
- The filter pipeline is applied in order when writing and undone in reverse when reading. The
  gzip filter (H5Z_FILTER_DEFLATE = 1) stores a zlib stream (RFC 1950, 15-bit window), so
  ``isal_zlib.decompress`` inflates it (and checks its Adler-32). The shuffle filter
  (H5Z_FILTER_SHUFFLE = 2) stores byte k of every element together: byte plane k of a chunk is
  bytes ``[k * chunk_events, (k + 1) * chunk_events)``.
- Bit i of a chunk's filter mask set means filter i was skipped for that chunk (an optional filter,
  e.g. deflate of data that does not shrink).
- ``H5Dchunk_iter`` / ``H5Dget_chunk_info`` give each chunk's address in the file and its stored
  size; without a user block that address is the byte offset in the file, so a plain ``pread``
  (which releases the GIL) reads the chunk; with a user block, ``read_direct_chunk`` does.

This path reads 1-D chunked little-endian 4-byte datasets (``event_id`` uint32,
``event_time_offset`` float32) whose filters are gzip and/or shuffle (shuffle first), every chunk
allocated. Anything else (other codecs, Fletcher-32, other dtypes or byte order, contiguous or
compact storage, unallocated chunks) is read through h5py, which decodes it the way the earlier
loader did: :attr:`DatasetReader.via_h5py`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, NamedTuple

import h5py
import numba
import numpy as np
from isal import isal_zlib

from snapcal_core.errors import CorruptFileError

H5Z_FILTER_DEFLATE = 1
H5Z_FILTER_SHUFFLE = 2
#: Events per read of a dataset that is not chunked (contiguous or compact storage).
UNCHUNKED_BLOCK_EVENTS = 1 << 20
#: zlib container, 15-bit window: what the HDF5 gzip filter writes.
ZLIB_WBITS = 15


class Words(NamedTuple):
    """Bytes holding 4-byte little-endian elements: plain, or byte-shuffled in planes of ``stride``."""

    data: np.ndarray  # uint8
    stride: int  # elements per byte plane (shuffled); unused when plain
    shuffled: bool


@numba.njit(nogil=True, cache=True)
def decode_words(data: np.ndarray, stride: int, shuffled: bool, first: int, n: int, out: np.ndarray) -> None:
    """``out[k]`` = element ``first + k`` (k < n) of :class:`Words` ``(data, stride, shuffled)``, as uint32.

    Little-endian: byte j of an element is worth ``256**j``; shuffled, it sits in byte plane j.
    (Slices first, then plain indexing and uint32 shifts: the loops vectorise.)
    """
    s8, s16, s24 = np.uint32(8), np.uint32(16), np.uint32(24)
    if shuffled:
        b0 = data[first : first + n]
        b1 = data[stride + first : stride + first + n]
        b2 = data[2 * stride + first : 2 * stride + first + n]
        b3 = data[3 * stride + first : 3 * stride + first + n]
        for k in range(n):
            out[k] = np.uint32(b0[k]) | (np.uint32(b1[k]) << s8) | (np.uint32(b2[k]) << s16) | (np.uint32(b3[k]) << s24)
    else:
        q = data[4 * first : 4 * (first + n)]
        for k in range(n):
            out[k] = (np.uint32(q[4 * k]) | (np.uint32(q[4 * k + 1]) << s8) | (np.uint32(q[4 * k + 2]) << s16)
                      | (np.uint32(q[4 * k + 3]) << s24))


def plain_words(values: np.ndarray) -> Words:
    """An array of 4-byte elements (uint32 / float32) as :class:`Words`."""
    return Words(np.ascontiguousarray(values).view(np.uint8), values.size, False)


class Chunk(NamedTuple):
    """One stored chunk: its first element, file address, stored bytes and skipped-filter mask."""

    start: int
    address: int
    n_bytes: int
    filter_mask: int


@dataclass(frozen=True)
class DatasetReader:
    """How to read one event dataset: its stored chunks, or through h5py (``chunks`` is None)."""

    dataset: h5py.Dataset
    dtype: np.dtype  # what the events are read as: uint32 ids or float32 TOFs
    block_events: int  # elements per chunk (per h5py read when not chunked)
    chunks: tuple[Chunk, ...] | None = None
    shuffle_at: int | None = None  # position of the shuffle filter in the pipeline
    deflate_at: int | None = None  # position of the gzip filter in the pipeline

    @property
    def via_h5py(self) -> bool:
        return self.chunks is None

    def via_h5py_only(self) -> DatasetReader:
        """The same dataset read through h5py (the fallback, also the reference the tests compare with)."""
        return DatasetReader(self.dataset, self.dtype, self.block_events)


def _pipeline(ds: h5py.Dataset) -> list[int]:
    plist = ds.id.get_create_plist()
    return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


def _stored_chunks(ds: h5py.Dataset) -> list[Chunk]:
    found: list[Chunk] = []

    def add(info: Any) -> None:  # h5py's StoreInfo
        found.append(Chunk(info.chunk_offset[0], info.byte_offset, info.size, info.filter_mask))

    if hasattr(ds.id, "chunk_iter"):
        try:
            ds.id.chunk_iter(add)
            return sorted(found)
        except (RuntimeError, NotImplementedError, AttributeError):  # HDF5 older than 1.14 / 1.12.3
            found.clear()
    for i in range(ds.id.get_num_chunks()):
        add(ds.id.get_chunk_info(i))
    return sorted(found)


def _readable_chunks(ds: h5py.Dataset, dtype: np.dtype) -> tuple[list[Chunk], list[int]] | None:
    """The chunks and filter pipeline of a dataset this module can decode; None for the h5py path."""
    if ds.chunks is None or len(ds.chunks) != 1 or ds.dtype != dtype.newbyteorder("<") or dtype.itemsize != 4:
        return None  # decode_words builds each value from little-endian bytes, whatever the host's order
    filters = _pipeline(ds)
    if not set(filters) <= {H5Z_FILTER_DEFLATE, H5Z_FILTER_SHUFFLE} or len(set(filters)) != len(filters):
        return None  # another codec, or a filter applied twice
    if filters == [H5Z_FILTER_DEFLATE, H5Z_FILTER_SHUFFLE]:
        return None  # shuffled after deflate: the inflated bytes would need unshuffling first
    n_chunks = -(-ds.shape[0] // ds.chunks[0])
    chunks = [c for c in _stored_chunks(ds) if c.start < ds.shape[0]]
    if [c.start for c in chunks] != [k * ds.chunks[0] for k in range(n_chunks)]:
        return None  # unallocated (fill-value) chunks: h5py fills them
    return chunks, filters


def dataset_reader(ds: h5py.Dataset, dtype: type) -> DatasetReader:
    """The reader of event dataset ``ds`` read as ``dtype``: its stored chunks when decodable here."""
    as_dtype = np.dtype(dtype)
    block = ds.chunks[0] if ds.chunks is not None and len(ds.chunks) == 1 else UNCHUNKED_BLOCK_EVENTS
    found = _readable_chunks(ds, as_dtype)
    if found is None:
        return DatasetReader(ds, as_dtype, block)
    chunks, filters = found
    at = {f: i for i, f in enumerate(filters)}
    return DatasetReader(ds, as_dtype, block, tuple(chunks), at.get(H5Z_FILTER_SHUFFLE), at.get(H5Z_FILTER_DEFLATE))


class ChunkFile:
    """The event file opened once more for reading stored chunks with ``pread`` (GIL released)."""

    def __init__(self, file: h5py.File) -> None:
        self.path = file.filename
        self._direct = file.userblock_size != 0  # addresses then need HDF5's own chunk read
        self._fd = os.open(self.path, os.O_RDONLY)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> ChunkFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stored_bytes(self, reader: DatasetReader, chunk: Chunk) -> bytes:
        if self._direct:
            stored: bytes = reader.dataset.id.read_direct_chunk((chunk.start,))[1]
            return stored
        data = os.pread(self._fd, chunk.n_bytes, chunk.address)
        if len(data) != chunk.n_bytes:
            raise CorruptFileError(f"cannot read event file {self.path}: {reader.dataset.name} chunk at element "
                                   f"{chunk.start} ends beyond the end of the file (truncated)")
        return data

    def chunk_words(self, reader: DatasetReader, index: int) -> Words:
        """Chunk ``index`` of ``reader``'s dataset, inflated, as :class:`Words` (the whole stored chunk)."""
        assert reader.chunks is not None  # a reader of stored chunks
        chunk = reader.chunks[index]
        data = self._stored_bytes(reader, chunk)
        n_bytes = reader.block_events * 4
        if reader.deflate_at is not None and not chunk.filter_mask >> reader.deflate_at & 1:
            try:
                data = isal_zlib.decompress(data, ZLIB_WBITS, n_bytes)
            except isal_zlib.error as exc:  # type: ignore[misc]  # isal's stub declares error an instance, not a class
                raise CorruptFileError(f"cannot read event file {self.path}: {reader.dataset.name} chunk at element "
                                       f"{chunk.start} does not inflate: {exc}") from exc
        if len(data) != n_bytes:
            raise CorruptFileError(f"cannot read event file {self.path}: {reader.dataset.name} chunk at element "
                                   f"{chunk.start} holds {len(data)} bytes, not {n_bytes}")
        shuffled = reader.shuffle_at is not None and not chunk.filter_mask >> reader.shuffle_at & 1
        return Words(np.frombuffer(data, np.uint8), reader.block_events, shuffled)

    @staticmethod
    def range_words(reader: DatasetReader, start: int, n: int, scratch: np.ndarray) -> Words:
        """Elements ``[start, start + n)`` read through h5py (HDF5 decodes and converts) into ``scratch``."""
        out = scratch[:n]
        reader.dataset.read_direct(out, source_sel=np.s_[start : start + n])
        return plain_words(out)

    def words(self, reader: DatasetReader, start: int, n: int, scratch: np.ndarray) -> tuple[Words, int]:
        """Elements ``[start, start + n)`` (within one chunk) as :class:`Words` and the position of
        ``start`` in them."""
        if reader.via_h5py:
            return self.range_words(reader, start, n, scratch), 0
        index = start // reader.block_events
        return self.chunk_words(reader, index), start - index * reader.block_events
