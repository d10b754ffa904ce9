"""The known truth of a simulated run: every native pixel's true DIFC, TZERO and DIFA."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snapcal_core.constants import N_LITE_PIXELS, N_PANELS, PIXELS_PER_PANEL
from snapcal_core.instrument.geometry import InstrumentGeometry
from snapcal_core.instrument.lite import lite_map
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal

#: Column grouping by panel (SCIENCE.md): panels 0-2 -> 1, 3-5 -> 2, 6-8 -> 3, 9-11 -> 6, 12-14 -> 5, 15-17 -> 4.
COLUMN_OF_PANEL = np.repeat(np.array([1, 2, 3, 6, 5, 4], dtype=np.int32), 3)


def perturbed_truth(
    geometry: InstrumentGeometry,
    *,
    seed: int,
    panel_offset_std: float = 2e-3,
    pixel_scatter_std: float = 1e-3,
    tzero_us: float = 0.0,
    difa: float = 0.0,
) -> DiffCalTable:
    r"""True constants of every native pixel.

    .. math:: \mathrm{DIFC}_\mathrm{true} = \mathrm{DIFC}_\mathrm{geom} (1 + \epsilon_\mathrm{panel} + \epsilon_\mathrm{pixel})

    with :math:`\epsilon_\mathrm{panel} \sim N(0, \sigma_\mathrm{panel})` per panel and
    :math:`\epsilon_\mathrm{pixel} \sim N(0, \sigma_\mathrm{pixel})` per pixel; TZERO and DIFA global.
    """
    if geometry.lite:
        raise ValueError("the truth is defined on native pixels; use lite_truth() for Lite mode")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    panel = rng.normal(0.0, panel_offset_std, N_PANELS)
    pixel = rng.normal(0.0, pixel_scatter_std, geometry.n_pixels)
    factor = 1.0 + np.repeat(panel, PIXELS_PER_PANEL) + pixel
    table = DiffCalTable.from_difc(
        geometry.difc_us_per_angstrom * factor, group=np.repeat(COLUMN_OF_PANEL, PIXELS_PER_PANEL),
        instrument_source="snapcal simulator truth",
    )
    table.tzero[:] = tzero_us
    table.difa[:] = difa
    return table


def lite_truth(native: DiffCalTable) -> DiffCalTable:
    """Lite truth: each superpixel's DIFC, DIFA and TZERO are the mean over its 64 native pixels."""
    mapping = lite_map()[native.detid]
    counts = np.bincount(mapping, minlength=N_LITE_PIXELS)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(mapping, weights=values, minlength=N_LITE_PIXELS) / counts

    group = np.zeros(N_LITE_PIXELS, np.int32)
    group[mapping] = native.group
    return DiffCalTable(
        detid=np.arange(N_LITE_PIXELS, dtype=np.int32), difc=mean(native.difc), difa=mean(native.difa),
        tzero=mean(native.tzero), group=group, use=np.ones(N_LITE_PIXELS, np.int32),
        instrument_name="SNAPLite", instrument_source=native.instrument_source,
    )


def truth_path(raw_path: Path) -> Path:
    """Where the truth of a simulated raw file lives: beside it, ``SNAP_<run>.truth.h5``."""
    return Path(raw_path).with_name(Path(raw_path).name.replace(".nxs.h5", ".truth.h5"))


def read_truth(raw_path: Path, *, lite: bool = False) -> DiffCalTable:
    """The truth written beside a simulated raw file (native, or averaged to Lite)."""
    table = read_diffcal(truth_path(raw_path))
    return lite_truth(table) if lite else table
