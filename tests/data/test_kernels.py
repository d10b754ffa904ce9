"""Numba kernels of the data component equal their plain numpy definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from snapcal_core.constants import N_NATIVE_PIXELS
from snapcal_core.data.band_kernel import crop_to_band
from snapcal_core.data.lite_kernel import events_to_lite
from snapcal_core.instrument.lite import native_to_lite

native_ids = hnp.arrays(np.uint32, st.integers(0, 3000), elements=st.integers(0, N_NATIVE_PIXELS - 1))


@settings(max_examples=60, deadline=None)
@given(native_ids)
def test_lite_kernel_equals_numpy_map(ids):
    assert np.array_equal(events_to_lite(ids), native_to_lite(ids))


def test_lite_kernel_on_random_ids_every_panel_corner_and_in_place():
    ids = np.random.default_rng(4).integers(0, N_NATIVE_PIXELS, 200_000).astype(np.uint32)
    corners = np.array([0, 7, 8, 255, 256, 2047, 2048, 65535, 65536, N_NATIVE_PIXELS - 1], np.uint32)
    for x in (ids, corners):
        expected = native_to_lite(x)
        assert np.array_equal(events_to_lite(x), expected)
        assert np.array_equal(events_to_lite(x, out=x), expected) and np.array_equal(x, expected)


def test_lite_kernel_refuses_ids_beyond_the_instrument():
    with pytest.raises(ValueError, match=str(N_NATIVE_PIXELS)):
        events_to_lite(np.array([5, N_NATIVE_PIXELS], np.uint32))


@pytest.mark.parametrize("to_lite", [False, True])
def test_band_crop_keeps_exactly_the_in_band_events_in_order(to_lite):
    rng = np.random.default_rng(5)
    n = 3_000_000  # several kernel blocks
    ids = rng.integers(0, N_NATIVE_PIXELS, n).astype(np.uint32)
    tof = rng.uniform(0, 20000, n).astype(np.float32)
    lo = rng.uniform(2000, 3000, N_NATIVE_PIXELS).astype(np.float32)
    hi = rng.uniform(13000, 15000, N_NATIVE_PIXELS).astype(np.float32)
    keep = (lo[ids] <= tof) & (tof <= hi[ids])
    expected_ids = native_to_lite(ids[keep]) if to_lite else ids[keep]
    expected_tof = tof[keep]
    n_kept, n_bad, _ = crop_to_band(ids, tof, lo_us=lo, hi_us=hi, to_lite=to_lite)
    assert (n_kept, n_bad) == (int(keep.sum()), 0)
    assert np.array_equal(ids[:n_kept], expected_ids) and np.array_equal(tof[:n_kept], expected_tof)


def test_band_crop_counts_and_drops_ids_without_a_band():
    ids = np.array([0, 5, 99, 3], np.uint32)
    tof = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    n_kept, n_bad, _ = crop_to_band(ids, tof, lo_us=np.zeros(10), hi_us=np.full(10, 10.0), to_lite=False)
    assert (n_kept, n_bad) == (3, 1) and ids[:3].tolist() == [0, 5, 3] and tof[:3].tolist() == [1.0, 2.0, 4.0]
