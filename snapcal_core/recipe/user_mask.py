"""The user's pixel mask: read once per step, checked against the grouping, applied to the start table."""

from __future__ import annotations

import numpy as np

from snapcal_core.errors import MaskCoversGroupError
from snapcal_core.instrument.types import Grouping
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.io.mask import read_mask_file


def user_mask(*, mask_file: str, grouping: Grouping) -> np.ndarray | None:
    """Masked pixels (True) of ``mask_file`` for the grouping's pixels; None without a file.

    Any format :func:`~snapcal_core.io.mask.read_mask_file` reads; a mask of the wrong size, mode
    or instrument is its typed error, and one that masks every pixel of a group is a
    :class:`MaskCoversGroupError` naming the groups (nothing is calibrated, nothing written).
    """
    if not mask_file:
        return None
    masked = read_mask_file(mask_file, n_pixels=grouping.n_pixels, lite=grouping.lite).masked
    covered = [int(g) for g in grouping.group_ids if masked[grouping.group_of_pixel == g].all()]
    if covered:
        raise MaskCoversGroupError(
            f"mask {mask_file} masks every pixel of group(s) {covered} of grouping '{grouping.name}': "
            "unmask some of their pixels or use a grouping without them")
    return masked


def masked_table(table: DiffCalTable, mask: np.ndarray | None) -> DiffCalTable:
    """``table`` with ``use = 0`` where ``mask`` is True (the table itself without a mask)."""
    if mask is None:
        return table
    use = np.where(mask[table.detid], 0, table.use).astype(np.int32)
    return DiffCalTable(detid=table.detid, difc=table.difc, difa=table.difa, tzero=table.tzero, group=table.group,
                        use=use, instrument_name=table.instrument_name, instrument_source=table.instrument_source,
                        extra=table.extra)
