"""Crop events to the TOF band of their pixel and drop the prompt pulse, in place, optionally mapping
native ids to Lite (numba): one pass over the events."""

from __future__ import annotations

import numba
import numpy as np

from snapcal_core.data.lite_kernel import lite_id

#: Events per block: blocks are compacted in parallel, then moved together.
_BLOCK_EVENTS = 1 << 20


@numba.njit(parallel=True, nogil=True, cache=True)
def _crop_blocks(pixel, tof, bounds, lo, hi, to_lite, prompt, width, kept, bad, flash):
    """Within each block ``[bounds[b], bounds[b+1])`` move in-band events outside the prompt
    pulses ``[prompt[k], prompt[k] + width]`` to the block's start.

    In place is safe: the write position never passes the read position. Branch-free keep
    (always store, advance only when in band): random pixel order defeats branch prediction.
    """
    n_pixels = lo.shape[0]
    for b in numba.prange(bounds.shape[0] - 1):
        write = bounds[b]
        n_bad = 0
        n_flash = 0
        for i in range(bounds[b], bounds[b + 1]):
            p = pixel[i]
            t = tof[i]
            if p >= n_pixels:
                n_bad += 1
                continue
            pixel[write] = lite_id(p) if to_lite else p
            tof[write] = t
            band = np.int64(lo[p] <= t) * np.int64(t <= hi[p])
            hit = np.int64(0)
            for k in range(prompt.shape[0]):
                hit |= np.int64(prompt[k] <= t) * np.int64(t <= prompt[k] + width)
            n_flash += band * hit
            write += band * (1 - hit)
        kept[b] = write - bounds[b]
        bad[b] = n_bad
        flash[b] = n_flash


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
    lo = np.ascontiguousarray(lo_us, dtype=np.float32)
    hi = np.ascontiguousarray(hi_us, dtype=np.float32)
    bounds = np.append(np.arange(0, pixel.size, _BLOCK_EVENTS, dtype=np.int64), np.int64(pixel.size))
    kept = np.zeros(bounds.size - 1, dtype=np.int64)
    bad = np.zeros(bounds.size - 1, dtype=np.int64)
    flash = np.zeros(bounds.size - 1, dtype=np.int64)
    prompt = np.ascontiguousarray(np.empty(0) if prompt_us is None else prompt_us, dtype=np.float32)
    _crop_blocks(pixel, tof_us, bounds, lo, hi, to_lite, prompt, np.float32(prompt_width_us), kept, bad, flash)
    write = int(kept[0]) if kept.size else 0
    for start, n in zip(bounds[1:-1], kept[1:]):  # move the compacted blocks together
        pixel[write : write + n] = pixel[start : start + n]
        tof_us[write : write + n] = tof_us[start : start + n]
        write += int(n)
    return write, int(bad.sum()), int(flash.sum())
