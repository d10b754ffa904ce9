"""Numba kernels of the data component: Lite mapping and TOF-band cropping of events."""

from __future__ import annotations

import numba
import numpy as np

from snapcal_core.constants import LITE_BLOCK, LITE_PIXELS_PER_PANEL, LITE_PIXELS_PER_SIDE, PANEL_PIXELS_PER_SIDE, PIXELS_PER_PANEL


@numba.njit(parallel=True, nogil=True, cache=True)
def _to_lite(native, out):
    for i in numba.prange(native.shape[0]):
        n = native[i]
        within = n % PIXELS_PER_PANEL
        out[i] = (
            (n // PIXELS_PER_PANEL) * LITE_PIXELS_PER_PANEL
            + (within // PANEL_PIXELS_PER_SIDE // LITE_BLOCK) * LITE_PIXELS_PER_SIDE
            + (within % PANEL_PIXELS_PER_SIDE) // LITE_BLOCK
        )


def events_to_lite(native_id: np.ndarray) -> np.ndarray:
    """Lite pixel id of every event's native detector id (parallel; same map as ``instrument.lite``)."""
    native_id = np.ascontiguousarray(native_id, dtype=np.uint32)
    out = np.empty_like(native_id)
    _to_lite(native_id, out)
    return out


@numba.njit(parallel=True, nogil=True, cache=True)
def _in_band(pixel, tof, lo, hi, n_pixels, keep):
    for i in numba.prange(pixel.shape[0]):
        p = pixel[i]
        keep[i] = p < n_pixels and lo[p] <= tof[i] <= hi[p]


def band_mask(pixel: np.ndarray, tof_us: np.ndarray, *, lo_us: np.ndarray, hi_us: np.ndarray) -> np.ndarray:
    """True for events whose pixel id is valid and whose TOF lies in that pixel's band."""
    keep = np.empty(pixel.shape[0], dtype=np.bool_)
    _in_band(pixel, tof_us, lo_us.astype(np.float32), hi_us.astype(np.float32), lo_us.shape[0], keep)
    return keep
