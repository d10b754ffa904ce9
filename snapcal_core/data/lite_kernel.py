"""Native -> Lite mapping of event ids in parallel (numba), with the map of
:func:`snapcal_core.instrument.lite.lite_id` compiled as it stands (one home for the map)."""

from __future__ import annotations

import numba
import numpy as np

from snapcal_core.constants import N_NATIVE_PIXELS
from snapcal_core.instrument import lite

#: Lite pixel id of a valid native detector id, inside numba kernels.
lite_id = numba.njit(nogil=True, cache=True, inline="always")(lite.lite_id)


@numba.njit(parallel=True, nogil=True, cache=True)
def _to_lite(native: np.ndarray, out: np.ndarray) -> int:
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
