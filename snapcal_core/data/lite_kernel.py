r"""Native -> Lite mapping of event ids (numba; same map as :func:`snapcal_core.instrument.lite.native_to_lite`).

.. math:: \mathrm{lite} = \lfloor n / 65536 \rfloor \cdot 1024
          + \lfloor (n \bmod 65536) / 256 / 8 \rfloor \cdot 32 + \lfloor (n \bmod 256) / 8 \rfloor
"""

from __future__ import annotations

import numba
import numpy as np

from snapcal_core.constants import (
    LITE_BLOCK,
    LITE_PIXELS_PER_PANEL,
    LITE_PIXELS_PER_SIDE,
    N_NATIVE_PIXELS,
    PANEL_PIXELS_PER_SIDE,
    PIXELS_PER_PANEL,
)


@numba.njit(nogil=True, cache=True, inline="always")
def lite_id(n):
    """Lite pixel id of native detector id ``n`` (a valid id, 0 <= n < 1,179,648)."""
    within = n % PIXELS_PER_PANEL
    return (
        (n // PIXELS_PER_PANEL) * LITE_PIXELS_PER_PANEL
        + (within // PANEL_PIXELS_PER_SIDE // LITE_BLOCK) * LITE_PIXELS_PER_SIDE
        + (within % PANEL_PIXELS_PER_SIDE) // LITE_BLOCK
    )


@numba.njit(parallel=True, nogil=True, cache=True)
def _to_lite(native, out):
    bad = 0
    for i in numba.prange(native.shape[0]):
        n = native[i]
        if n < N_NATIVE_PIXELS:
            out[i] = lite_id(n)
        else:
            bad += 1
    return bad


def events_to_lite(native_id: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Lite pixel id (uint32) of every event's native detector id, in parallel.

    ``out`` may be ``native_id`` itself (in-place). Raises ``ValueError`` for ids beyond the
    1,179,648 native pixels.
    """
    native_id = np.ascontiguousarray(native_id, dtype=np.uint32)
    if out is None:
        out = np.empty_like(native_id)
    elif out.shape != native_id.shape or out.dtype != np.uint32:
        raise ValueError(f"out must be uint32 of shape {native_id.shape}, got {out.dtype} {out.shape}")
    if _to_lite(native_id, out):
        raise ValueError(f"native detector ids must be below {N_NATIVE_PIXELS}; got {int(native_id.max())}")
    return out
