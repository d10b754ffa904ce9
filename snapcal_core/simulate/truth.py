"""The known truth of a simulated run: every native pixel's true DIFC, TZERO and DIFA, and its nuisances.

A run simulated with nuisances also has, per native pixel, ``/calibration/nuisance`` (uint8
:class:`~snapcal_core.simulate.nuisances.NuisanceFlag` bits: dead 1, hot 2, burst 4, noisy edge 8),
``/calibration/efficiency`` (float32, the weight of its neutron events; 0 for dead and hot pixels)
and ``/calibration/hot_rate`` (float32, steady hot rate in multiples of the mean pixel rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snapcal_core.constants import N_LITE_PIXELS, N_PANELS, PIXELS_PER_PANEL
from snapcal_core.instrument.geometry import InstrumentGeometry
from snapcal_core.instrument.lite import lite_map
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal
from snapcal_core.simulate.nuisances import NuisanceFlag

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


@dataclass(frozen=True)
class NuisanceTruth:
    """The nuisances of every pixel (native or Lite) of a simulated run."""

    flags: np.ndarray  # uint8, NuisanceFlag bits
    efficiency: np.ndarray  # float32, relative weight of the pixel's neutron events (0 = none)
    hot_rate: np.ndarray  # float32, steady hot rate in multiples of the mean pixel rate (Lite: see lite_nuisance)
    lite: bool = False

    def has(self, flag: NuisanceFlag) -> np.ndarray:
        """Boolean per pixel: carries ``flag``."""
        carries: np.ndarray = (self.flags & np.uint8(flag)) != 0
        return carries

    @property
    def dead(self) -> np.ndarray:
        return self.has(NuisanceFlag.DEAD)

    @property
    def hot(self) -> np.ndarray:
        return self.has(NuisanceFlag.HOT)

    @property
    def burst(self) -> np.ndarray:
        return self.has(NuisanceFlag.BURST)

    @property
    def noisy_edge(self) -> np.ndarray:
        return self.has(NuisanceFlag.NOISY_EDGE)

    @property
    def bad(self) -> np.ndarray:
        """Pixels a calibration should mask: dead or steadily hot."""
        return self.has(NuisanceFlag.DEAD | NuisanceFlag.HOT)


def lite_nuisance(native: NuisanceTruth) -> NuisanceTruth:
    """The nuisances of the Lite superpixels (8x8 native pixels each), as a Lite calibration sees them.

    - DEAD only when all 64 natives are dead (a dead panel): a dead tube takes one of a
      superpixel's 8 lines and scattered dead natives a few of 64, which only lower its count rate,
      as ``efficiency`` (the mean of the natives' neutron weights, dead and hot ones 0) records
      (7/8 for a tube): a Lite calibration cannot tell these from a weaker pixel, nor needs to;
    - HOT, BURST, NOISY_EDGE when any native carries it: the superpixel's counts then hold flat
      noise with no diffraction pattern. ``hot_rate`` (sum over the natives / 64) is the steady
      noise in multiples of the mean superpixel rate: a native hot at 10-100x adds 0.16-1.6 of it,
      so a superpixel stands out by its counts only from about 1.5 (a 2.5x excess) and otherwise only
      by its diluted peaks (a lower share of counts in the peak windows); a test of a detector
      picks its threshold from ``hot_rate``. With the default edge width 2 the noisy edge is the
      outermost Lite row and column of each panel (a quarter of an edge superpixel's natives).
    """
    if native.lite:
        return native
    mapping = lite_map()
    block = np.bincount(mapping, minlength=N_LITE_PIXELS)

    def any_of(flag: NuisanceFlag) -> np.ndarray:
        return np.bincount(mapping, weights=native.has(flag), minlength=N_LITE_PIXELS) > 0

    def mean(values: np.ndarray) -> np.ndarray:
        return (np.bincount(mapping, weights=values, minlength=N_LITE_PIXELS) / block).astype(np.float32)

    flags = np.zeros(N_LITE_PIXELS, np.uint8)
    flags[np.bincount(mapping, weights=native.dead, minlength=N_LITE_PIXELS) == block] |= np.uint8(NuisanceFlag.DEAD)
    for flag in (NuisanceFlag.HOT, NuisanceFlag.BURST, NuisanceFlag.NOISY_EDGE):
        flags[any_of(flag)] |= np.uint8(flag)
    return NuisanceTruth(flags=flags, efficiency=mean(native.efficiency), hot_rate=mean(native.hot_rate), lite=True)


def truth_nuisance(path: Path, *, lite: bool = False) -> NuisanceTruth:
    """The nuisances recorded in a simulated run's truth (``path``: the raw file or its truth file).

    A run simulated without nuisances has none: no flag, efficiency 1, no hot rate. With
    ``lite`` the native truth is combined per superpixel (:func:`lite_nuisance`).
    """
    table = read_diffcal(truth_path(Path(path)))
    n = table.n_rows
    native = NuisanceTruth(
        flags=np.asarray(table.extra.get("nuisance", np.zeros(n, np.uint8)), dtype=np.uint8),
        efficiency=np.asarray(table.extra.get("efficiency", np.ones(n, np.float32)), dtype=np.float32),
        hot_rate=np.asarray(table.extra.get("hot_rate", np.zeros(n, np.float32)), dtype=np.float32),
    )
    return lite_nuisance(native) if lite else native
