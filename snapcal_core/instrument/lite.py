r"""Native -> Lite pixel map: 8x8 native pixels form one superpixel (32x32 per panel).

The one home of the map: :func:`lite_id` is plain integer arithmetic, so it works on numpy
arrays here and is compiled as it stands for the event kernels
(:mod:`snapcal_core.data.lite_kernel`).

.. math:: \mathrm{lite} = \lfloor n / 65536 \rfloor \cdot 1024
          + \lfloor (n \bmod 65536) / 256 / 8 \rfloor \cdot 32 + \lfloor (n \bmod 256) / 8 \rfloor
"""

from __future__ import annotations

from typing import overload

import numpy as np

from snapcal_core.constants import (
    LITE_BLOCK,
    LITE_PIXELS_PER_PANEL,
    LITE_PIXELS_PER_SIDE,
    N_NATIVE_PIXELS,
    PANEL_PIXELS_PER_SIDE,
    PIXELS_PER_PANEL,
)


@overload
def lite_id(n: int) -> int: ...
@overload
def lite_id(n: np.ndarray) -> np.ndarray: ...
def lite_id(n: int | np.ndarray) -> int | np.ndarray:
    """Lite pixel id of native detector id ``n`` (an integer or integer array of valid ids,
    0 <= n < 1,179,648): panel, then the 8-pixel block of the line (ix) and of the pixel along it (iy)."""
    within = n % PIXELS_PER_PANEL
    return (
        (n // PIXELS_PER_PANEL) * LITE_PIXELS_PER_PANEL
        + (within // PANEL_PIXELS_PER_SIDE // LITE_BLOCK) * LITE_PIXELS_PER_SIDE
        + (within % PANEL_PIXELS_PER_SIDE) // LITE_BLOCK
    )


def native_to_lite(native_id: np.ndarray) -> np.ndarray:
    """Lite pixel id (int64) of each native detector id (vectorised numpy; events use the numba kernel)."""
    return np.asarray(lite_id(np.asarray(native_id, dtype=np.int64)), dtype=np.int64)


def lite_map() -> np.ndarray:
    """The Lite id of every native detector id, ``(1,179,648,)`` int32."""
    return native_to_lite(np.arange(N_NATIVE_PIXELS)).astype(np.int32)
