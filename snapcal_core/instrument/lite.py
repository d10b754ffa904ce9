"""Native -> Lite pixel map: 8x8 native pixels form one superpixel (32x32 per panel).

.. math:: \\mathrm{lite} = \\lfloor n / 65536 \\rfloor \\cdot 1024
          + \\lfloor (n \\bmod 65536) / 256 / 8 \\rfloor \\cdot 32 + \\lfloor (n \\bmod 256) / 8 \\rfloor
"""

from __future__ import annotations

import numpy as np

from snapcal_core.constants import (
    LITE_BLOCK,
    LITE_PIXELS_PER_PANEL,
    LITE_PIXELS_PER_SIDE,
    N_NATIVE_PIXELS,
    PANEL_PIXELS_PER_SIDE,
    PIXELS_PER_PANEL,
)


def native_to_lite(native_id: np.ndarray) -> np.ndarray:
    """Lite pixel id of each native detector id (vectorised numpy; events use the numba kernel)."""
    n = np.asarray(native_id, dtype=np.int64)
    panel, within = np.divmod(n, PIXELS_PER_PANEL)
    ix, iy = np.divmod(within, PANEL_PIXELS_PER_SIDE)
    return (panel * LITE_PIXELS_PER_PANEL + (ix // LITE_BLOCK) * LITE_PIXELS_PER_SIDE + iy // LITE_BLOCK).astype(
        np.int64
    )


def lite_map() -> np.ndarray:
    """The Lite id of every native detector id, ``(1,179,648,)`` int32."""
    return native_to_lite(np.arange(N_NATIVE_PIXELS)).astype(np.int32)
