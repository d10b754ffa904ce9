"""The fused crop kernels (keep flags, then the kept events stored) equal the plain definition of
the crop, whatever the band, the dropped pixels, the prompt pulses and the byte layout."""

from __future__ import annotations

import numpy as np
import pytest

from snapcal_core.data.band_kernel import crop_to_band, keep_words, make_band, store_kept
from snapcal_core.data.chunks import Words, plain_words
from snapcal_core.instrument.lite import native_to_lite

N_PIXELS = 4096 * 4  # a small instrument: the kernels only look at lo/hi sizes (Lite map on valid native ids)


def _reference(ids, tof, lo, hi, prompt, width, scale):
    """``keep`` and the counts by the definition, in numpy."""
    tof = tof * np.float32(scale) if scale != 1 else tof
    valid = ids < lo.size
    p = np.where(valid, ids, 0)
    band = valid & (lo[p] <= tof) & (tof <= hi[p])
    hit = np.zeros(ids.size, bool)
    for t in prompt.astype(np.float32):
        hit |= (t <= tof) & (tof <= t + np.float32(width))
    return band & ~hit, int((~valid).sum()), int((band & hit).sum()), tof


def _shuffled(values: np.ndarray) -> Words:
    return Words(np.ascontiguousarray(values.view(np.uint8).reshape(-1, 4).T).ravel(), values.size, True)


def _events(seed: int, n: int):
    rng = np.random.default_rng(seed)
    lo = rng.uniform(2000, 2100, N_PIXELS).astype(np.float32)
    hi = rng.uniform(13900, 14000, N_PIXELS).astype(np.float32)
    ids = rng.integers(0, N_PIXELS + 50, n).astype(np.uint32)  # some beyond the instrument
    tof = rng.uniform(1900, 14100, n).astype(np.float32)  # some beyond every band, some near its edges
    tof[rng.random(n) < 0.01] = np.nan
    tof[:20] = [lo.max(), hi.min(), np.nextafter(lo.max(), 0), np.nextafter(hi.min(), 2e4)] * 5  # the inner range's edges
    return ids, tof, lo, hi, rng


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("shuffled", [False, True])
def test_keep_flags_and_stored_events_follow_the_definition(seed, shuffled):
    ids, tof, lo, hi, rng = _events(seed, 20_000)
    drop = rng.random(N_PIXELS) < (0.0, 0.001, 0.3, 1.0)[seed]  # none, a few, many, all pixels screened
    prompt = np.array([[], [5000.0], [3000.0, 9000.0], [13990.0]][seed])
    scale = (1.0, 1.0, 1e-3, 1.0)[seed]
    raw_tof = (tof / np.float32(scale)).astype(np.float32) if scale != 1 else tof
    band = make_band(lo_us=lo, hi_us=hi, prompt_us=prompt, prompt_width_us=40.0, to_lite=False, drop=drop)
    lo_ref, hi_ref = np.where(drop, np.inf, lo).astype(np.float32), np.where(drop, -np.inf, hi).astype(np.float32)
    keep_ref, n_bad, n_prompt, tof_ref = _reference(ids, raw_tof, lo_ref, hi_ref, prompt, 40.0, scale)
    pack = _shuffled if shuffled else plain_words
    words_ids, words_tof = pack(ids), pack(raw_tof)
    keep, aside = np.empty(ids.size, np.uint8), np.empty(ids.size, np.uint32)
    n_kept, bad, flash, last = keep_words(words_ids, 0, words_tof, 0, ids.size, np.float32(scale), band, keep, aside)
    assert np.array_equal(keep.astype(bool), keep_ref) and (n_kept, bad, flash) == (keep_ref.sum(), n_bad, n_prompt)
    assert np.array_equal(aside, ids) and last == (np.flatnonzero(keep_ref)[-1] + 1 if keep_ref.any() else 0)
    out_ids, out_tof = np.full(ids.size + 1, 7, np.uint32), np.full(ids.size + 1, -1, np.float32)
    end = store_kept(words_ids, 0, words_tof, 0, last, np.float32(scale), keep, False, np.zeros(1, np.int64),
                     np.zeros(1, np.uint32), 0, out_ids, out_tof, np.empty(0, np.uint32), 1)
    assert end == 1 + n_kept and out_ids[0] == 7 and out_tof[0] == -1  # nothing written before ``write``
    assert np.array_equal(out_ids[1:end], ids[keep_ref]) and out_tof[1:end].tobytes() == tof_ref[keep_ref].tobytes()


def test_pulses_and_the_lite_map_are_stored_with_the_kept_events():
    rng = np.random.default_rng(9)
    ids = rng.integers(0, 1_179_648, 10_000).astype(np.uint32)
    tof = rng.uniform(1000, 20000, ids.size).astype(np.float32)
    starts = np.array([3, 3, 100, 5000, 20_000], np.int64)  # an empty pulse, one beyond the bank
    table_index = np.array([10, 11, 12, 13, 14], np.uint32)
    band = make_band(lo_us=np.full(1_179_648, 2000.0), hi_us=np.full(1_179_648, 15000.0), to_lite=True)
    keep = np.empty(ids.size, np.uint8)
    n_kept, _, _, last = keep_words(plain_words(ids), 0, plain_words(tof), 0, ids.size, np.float32(1), band, keep,
                                    np.empty(0, np.uint32))
    first = 4000  # the words start at the bank's event 4000
    pixel, out_tof, pulse = (np.empty(ids.size, d) for d in (np.uint32, np.float32, np.uint32))
    end = store_kept(plain_words(ids), 0, plain_words(tof), 0, last, np.float32(1), keep, True, starts, table_index,
                     first, pixel, out_tof, pulse, 0)
    kept = keep.astype(bool)
    position = first + np.arange(ids.size)
    expected_pulse = table_index[np.maximum(np.searchsorted(starts, position, side="right") - 1, 0)]
    assert end == n_kept and np.array_equal(pixel[:end], native_to_lite(ids[kept]))
    assert np.array_equal(pulse[:end], expected_pulse[kept]) and np.array_equal(out_tof[:end], tof[kept])


@pytest.mark.parametrize("to_lite", [False, True])
def test_crop_to_band_in_place_keeps_its_results(to_lite):
    ids, tof, lo, hi, _ = _events(11, 50_000)
    ids = np.minimum(ids, N_PIXELS + 10).astype(np.uint32)
    keep_ref, n_bad, n_prompt, _ = _reference(ids, tof, lo, hi, np.array([7000.0]), 30.0, 1.0)
    expected = native_to_lite(ids[keep_ref]) if to_lite else ids[keep_ref]
    expected_tof = tof[keep_ref]
    n_kept, bad, prompt = crop_to_band(ids, tof, lo_us=lo, hi_us=hi, to_lite=to_lite, prompt_us=np.array([7000.0]),
                                       prompt_width_us=30.0)
    assert (n_kept, bad, prompt) == (keep_ref.sum(), n_bad, n_prompt)
    assert np.array_equal(ids[:n_kept], expected) and np.array_equal(tof[:n_kept], expected_tof)
