"""Crop events to the TOF band of their pixel and drop the prompt pulse, optionally mapping native ids
to Lite (numba): one pass over the events, in place over whole arrays (:func:`crop_to_band`) or
chunk by chunk straight from the file's decoded bytes (:func:`crop_words`). One keep rule
(:func:`_keep_block`) for both.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from snapcal_core.data.chunks import Words, decode_words
from snapcal_core.data.lite_kernel import lite_id

#: Events per block: blocks are compacted in parallel, then moved together.
_BLOCK_EVENTS = 1 << 20
#: Events :func:`crop_words` decodes at a time (small buffers that stay in the L1 cache).
_DECODE_EVENTS = 4096


class Band(NamedTuple):
    """The crop, as the kernels take it (made by :func:`make_band`).

    An event of pixel p at TOF t is kept when ``p < lo_us.size``, ``lo_us[p] <= t <= hi_us[p]``
    and t lies in no prompt pulse ``[prompt_start_us[k], prompt_end_us[k]]``. ``inner_*_us`` is the
    TOF range inside the band of every pixel whose band is not empty (``good_bits``, one bit per
    pixel, little-endian bit order): there the per-pixel lookup (two cache misses into 4.7 MB
    tables) is replaced by one bit of a 147 kB table, or by nothing when ``all_good``, with the
    same answer.
    """

    lo_us: np.ndarray  # float32 per pixel
    hi_us: np.ndarray
    inner_lo_us: np.float32
    inner_hi_us: np.float32
    good_bits: np.ndarray  # uint8, bit p % 8 of byte p // 8: lo_us[p] <= hi_us[p]
    all_good: bool  # every pixel's band is non-empty
    prompt_start_us: np.ndarray  # float32
    prompt_end_us: np.ndarray  # float32, start + width (the sum in float32, as it always was)
    prompt_min_us: np.float32  # smallest start (inf without prompt pulses)
    prompt_max_us: np.float32  # largest end (-inf without)
    to_lite: bool


def make_band(*, lo_us: np.ndarray, hi_us: np.ndarray, prompt_us: np.ndarray | None = None,
              prompt_width_us: float = 0.0, to_lite: bool = False, drop: np.ndarray | None = None) -> Band:
    """The :class:`Band` of per-pixel TOF limits (us) and prompt pulses of width ``prompt_width_us``;
    the pixels where ``drop`` is set get an empty band (``inf, -inf``: all their events are dropped)."""
    lo = np.array(lo_us, dtype=np.float32)  # own writable copies: one array type for the kernels
    hi = np.array(hi_us, dtype=np.float32)
    if drop is not None and drop.any():
        lo[drop], hi[drop] = np.inf, -np.inf
    good = lo <= hi
    inner = (lo[good].max(), hi[good].min()) if good.any() else (np.inf, -np.inf)
    start = np.ascontiguousarray(np.empty(0) if prompt_us is None else prompt_us, dtype=np.float32)
    end = start + np.float32(prompt_width_us)
    return Band(lo, hi, np.float32(inner[0]), np.float32(inner[1]), np.packbits(good, bitorder="little"),
                bool(good.all()), start, end, np.float32(start.min() if start.size else np.inf),
                np.float32(end.max() if end.size else -np.inf), bool(to_lite))


@numba.njit(nogil=True, cache=True)
def _keep_block(ids: np.ndarray, tof: np.ndarray, m: int, band: Band, keep: np.ndarray) -> tuple[int, int, int]:
    """``keep[k]`` (0/1) of the first ``m`` events (valid id, in band, in no prompt pulse);
    returns ``(n_kept, n_bad, n_prompt)``.

    First a branch-free pass that the compiler vectorises: a valid id with a TOF in the inner
    range is in band when every band is good. Only the other events (near the band's edges, ids
    beyond the instrument, or all when some band is empty) take the per-pixel test, and only
    events near a prompt pulse the pulse test. (All in this one function: the band's arrays are
    taken out of the tuple once, and no function taking arrays is called per event, since each
    such call or access counts references, ~25 ns.)
    """
    lo, hi, good_bits, all_good = band.lo_us, band.hi_us, band.good_bits, band.all_good
    inner_lo, inner_hi = band.inner_lo_us, band.inner_hi_us
    start, end, t_min, t_max = band.prompt_start_us, band.prompt_end_us, band.prompt_min_us, band.prompt_max_us
    n_pixels = np.uint32(lo.shape[0])
    n_inner = 0
    for k in range(m):
        inner = (ids[k] < n_pixels) & (inner_lo <= tof[k]) & (tof[k] <= inner_hi)
        keep[k] = inner
        n_inner += inner
    n_bad = 0
    if n_inner < m or not all_good:
        for k in range(m):
            if keep[k] and all_good:
                continue
            p, t = ids[k], tof[k]
            if p >= n_pixels:
                n_bad += 1
            elif inner_lo <= t and t <= inner_hi:  # inside every good band: is the pixel's band good?
                keep[k] = (good_bits[p >> 3] >> (p & 7)) & 1
            else:
                keep[k] = lo[p] <= t and t <= hi[p]
    n_flash = 0
    if start.shape[0]:
        for k in range(m):
            t = tof[k]
            if keep[k] and t_min <= t and t <= t_max:
                hit = False
                for j in range(start.shape[0]):
                    hit |= start[j] <= t and t <= end[j]
                if hit:
                    keep[k] = 0
                    n_flash += 1
    n_kept = 0
    for k in range(m):
        n_kept += keep[k]
    return n_kept, n_bad, n_flash


@numba.njit(nogil=True, cache=True)
def _to_lite_in_place(ids: np.ndarray) -> None:
    for k in range(ids.shape[0]):
        ids[k] = lite_id(ids[k])


@numba.njit(nogil=True, cache=True)
def _decode_block(ids: Words, ids_first: int, tofs: Words, tofs_first: int, b: int, m: int, tof_scale: float | np.float32,
                  ids_block: np.ndarray, tof_bits: np.ndarray) -> None:
    """Events ``b .. b+m`` of the Words into the block buffers, TOFs times ``tof_scale`` unless 1."""
    decode_words(ids.data, ids.stride, ids.shuffled, ids_first + b, m, ids_block)
    decode_words(tofs.data, tofs.stride, tofs.shuffled, tofs_first + b, m, tof_bits)
    if tof_scale != 1:
        tof_block = tof_bits.view(np.float32)
        for k in range(m):
            tof_block[k] *= tof_scale


@numba.njit(nogil=True, cache=True)
def keep_words(ids: Words, ids_first: int, tofs: Words, tofs_first: int, n: int, tof_scale: float | np.float32, band: Band,
               keep: np.ndarray, ids_out: np.ndarray) -> tuple[int, int, int, int]:
    """Which of ``n`` events decoded from :class:`~snapcal_core.data.chunks.Words` ``ids`` /
    ``tofs`` (from element ``ids_first`` / ``tofs_first``) :class:`Band` ``band`` keeps:
    ``keep[k]`` 0/1. Each TOF is multiplied by ``tof_scale`` (float32, to microseconds) unless 1.
    The decoded ids are also copied to ``ids_out`` unless it is empty.

    Returns ``(n_kept, n_bad, n_prompt, last)``: ids ``>= band.lo_us.size`` dropped, events in band
    but in a prompt pulse, and one past the last kept event (0 if none).
    """
    ids_block = np.empty(_DECODE_EVENTS, np.uint32)
    tof_bits = np.empty(_DECODE_EVENTS, np.uint32)
    n_kept = n_bad = n_flash = last = 0
    for b in range(0, n, _DECODE_EVENTS):
        m = min(_DECODE_EVENTS, n - b)
        _decode_block(ids, ids_first, tofs, tofs_first, b, m, tof_scale, ids_block, tof_bits)
        if ids_out.shape[0]:
            ids_out[b : b + m] = ids_block[:m]
        kept, bad, flash = _keep_block(ids_block, tof_bits.view(np.float32), m, band, keep[b : b + m])
        n_kept, n_bad, n_flash = n_kept + kept, n_bad + bad, n_flash + flash
        if kept:
            for k in range(m - 1, -1, -1):
                if keep[b + k]:
                    last = b + k + 1
                    break
    return n_kept, n_bad, n_flash, last


@numba.njit(nogil=True, cache=True)
def store_kept(ids: Words, ids_first: int, tofs: Words, tofs_first: int, n: int, tof_scale: float | np.float32, keep: np.ndarray,
               to_lite: bool, pulse_start: np.ndarray, pulse_table_index: np.ndarray, bank_first: int, out_pixel: np.ndarray,
               out_tof: np.ndarray, out_pulse: np.ndarray, write: int) -> int:
    """Write the kept ones (``keep`` from :func:`keep_words`) of the first ``n`` events at
    ``out_*[write:]`` in order, ids mapped to Lite when ``to_lite``; returns the next ``write``.

    Pass ``n`` = the ``last`` of :func:`keep_words`: the compaction stores every event and advances
    only past kept ones (branch-free), so it writes nothing beyond the kept events only when the
    last event it stores is kept. The output may be the input itself from ``write <= ids_first``
    on (each block is decoded before it is written). With ``out_pulse`` non-empty, a kept event's
    pulse is ``pulse_table_index[q]`` with q the last pulse whose ``pulse_start[q] <= bank_first +
    k`` (0 if none; ``bank_first + k`` is the event's position in its bank).
    """
    ids_block = np.empty(_DECODE_EVENTS, np.uint32)
    tof_bits = np.empty(_DECODE_EVENTS, np.uint32)
    tof_block = tof_bits.view(np.float32)
    out_tof_bits = out_tof.view(np.uint32)
    with_pulse = out_pulse.shape[0] > 0
    n_pulses = pulse_start.shape[0]
    pulse = max(int(np.searchsorted(pulse_start, bank_first, side="right")) - 1, 0) if with_pulse else 0
    n_kept = 0
    for k in range(n):
        n_kept += keep[k]
    whole = n_kept == n and not with_pulse and tof_scale == 1  # the usual case: one block, decoded into place
    step = n if whole and n else _DECODE_EVENTS
    for b in range(0, n, step):
        m = min(step, n - b)
        n_kept = 0
        for k in range(m):
            n_kept += keep[b + k]
        if n_kept == m and not with_pulse and tof_scale == 1:  # every event kept: decoded straight into place
            decode_words(ids.data, ids.stride, ids.shuffled, ids_first + b, m, out_pixel[write : write + m])
            decode_words(tofs.data, tofs.stride, tofs.shuffled, tofs_first + b, m, out_tof_bits[write : write + m])
            if to_lite:
                _to_lite_in_place(out_pixel[write : write + m])
            write += m
            continue
        _decode_block(ids, ids_first, tofs, tofs_first, b, m, tof_scale, ids_block, tof_bits)
        for k in range(m):  # branch-free compaction: always store, advance only when kept
            p = ids_block[k]
            out_pixel[write] = lite_id(p) if to_lite else p
            out_tof[write] = tof_block[k]
            if with_pulse:
                while pulse + 1 < n_pulses and pulse_start[pulse + 1] <= bank_first + b + k:
                    pulse += 1
                out_pulse[write] = pulse_table_index[pulse]
            write += keep[b + k]
    return write


@numba.njit(parallel=True, nogil=True, cache=True)
def _crop_blocks(pixel: np.ndarray, tof: np.ndarray, bounds: np.ndarray, band: Band, kept: np.ndarray, bad: np.ndarray,
                 flash: np.ndarray) -> None:
    """Within each block ``[bounds[b], bounds[b+1])`` move the kept events to the block's start."""
    no_start, no_pulse = np.zeros(1, np.int64), np.zeros(1, np.uint32)
    none = np.zeros(0, np.uint32)
    one = np.float32(1)
    for b in numba.prange(bounds.shape[0] - 1):
        lo, hi = bounds[b], bounds[b + 1]
        words = Words(pixel[lo:hi].view(np.uint8), hi - lo, False)
        tofs = Words(tof[lo:hi].view(np.uint8), hi - lo, False)
        keep = np.empty(hi - lo, np.uint8)
        kept[b], bad[b], flash[b], last = keep_words(words, 0, tofs, 0, hi - lo, one, band, keep, none)
        store_kept(words, 0, tofs, 0, last, one, keep, band.to_lite, no_start, no_pulse, 0, pixel[lo:hi], tof[lo:hi],
                   none, 0)


def crop_to_band(
    pixel: np.ndarray, tof_us: np.ndarray, *, lo_us: np.ndarray, hi_us: np.ndarray, to_lite: bool,
    prompt_us: np.ndarray | None = None, prompt_width_us: float = 0.0,
) -> tuple[int, int, int]:
    """Keep, in place and in order, the events with ``lo_us[pixel] <= tof_us <= hi_us[pixel]``
    outside every prompt pulse ``[prompt_us[k], prompt_us[k] + prompt_width_us]``.

    The kept events end up in ``pixel[:n_kept]`` and ``tof_us[:n_kept]`` (native ids mapped to
    Lite ids when ``to_lite``). Returns ``(n_kept, n_bad, n_prompt)``: ``n_bad`` counts ids
    beyond ``lo_us.size`` (dropped; the caller decides whether that is an error), ``n_prompt``
    the in-band events removed as prompt pulse.
    """
    if pixel.dtype != np.uint32 or tof_us.dtype != np.float32 or pixel.shape != tof_us.shape or pixel.ndim != 1:
        raise ValueError("crop_to_band needs 1-d uint32 pixel and float32 tof_us of one shape")
    if not (pixel.flags.c_contiguous and tof_us.flags.c_contiguous and pixel.flags.writeable):
        raise ValueError("crop_to_band works in place: pixel and tof_us must be contiguous and writeable")
    band = make_band(lo_us=lo_us, hi_us=hi_us, prompt_us=prompt_us, prompt_width_us=prompt_width_us, to_lite=to_lite)
    bounds = np.append(np.arange(0, pixel.size, _BLOCK_EVENTS, dtype=np.int64), np.int64(pixel.size))
    kept = np.zeros(bounds.size - 1, dtype=np.int64)
    bad = np.zeros(bounds.size - 1, dtype=np.int64)
    flash = np.zeros(bounds.size - 1, dtype=np.int64)
    _crop_blocks(pixel, tof_us, bounds, band, kept, bad, flash)
    write = int(kept[0]) if kept.size else 0
    for start, n in zip(bounds[1:-1], kept[1:]):  # move the compacted blocks together
        pixel[write : write + n] = pixel[start : start + n]
        tof_us[write : write + n] = tof_us[start : start + n]
        write += int(n)
    return write, int(bad.sum()), int(flash.sum())
