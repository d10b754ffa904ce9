"""Focusing: sum the events of each group into one spectrum on a logarithmic d axis.

Each event's d comes from its own pixel's constants, so a focused peak is as sharp as the pixel
calibration allows. The spectrum can then be looked at in an "arbitrary" TOF,
``TOF_arb = DIFC_arb * d``, which is where group peaks are fitted (PDCalibration semantics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from snapcal_core.instrument.tof import d_from_tof_scalar
from snapcal_core.io.diffcal import DiffCalTable


@dataclass(frozen=True)
class FocusedSpectra:
    """Counts per group on common log-d bin edges."""

    group_ids: np.ndarray  # (n_groups,) int32
    d_edges_angstrom: np.ndarray  # (n_bins + 1,)
    counts: np.ndarray  # (n_groups, n_bins) float64

    @property
    def d_centres_angstrom(self) -> np.ndarray:
        centres: np.ndarray = np.sqrt(self.d_edges_angstrom[:-1] * self.d_edges_angstrom[1:])
        return centres

    def spectrum(self, group_id: int) -> np.ndarray:
        row: np.ndarray = self.counts[int(np.searchsorted(self.group_ids, group_id))]
        return row


def log_d_edges(*, d_min_angstrom: float, d_max_angstrom: float, log_step: float) -> np.ndarray:
    r"""Logarithmic bin edges: :math:`d_i = d_\min (1 + |s|)^i` up to and including ``d_max``."""
    n = int(np.ceil(np.log(d_max_angstrom / d_min_angstrom) / np.log1p(abs(log_step))))
    return d_min_angstrom * np.power(1.0 + abs(log_step), np.arange(n + 1))


@numba.njit(parallel=True, nogil=True, cache=True)
def _focus_kernel(pixel: np.ndarray, tof: np.ndarray, row_of_pixel: np.ndarray, difc: np.ndarray, difa: np.ndarray,
                  tzero: np.ndarray, log_d0: float, inv_log_step: float, n_bins: int, n_rows: int,
                  n_chunks: int) -> np.ndarray:
    partial = np.zeros((n_chunks, n_rows, n_bins))
    n = pixel.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        for i in range(c * size, min(n, (c + 1) * size)):
            p = pixel[i]
            row = row_of_pixel[p]
            if row < 0:
                continue
            d = d_from_tof_scalar(tof[i], difc[p], difa[p], tzero[p])
            if not d > 0.0:
                continue
            b = int(np.floor((np.log(d) - log_d0) * inv_log_step))
            if 0 <= b < n_bins:
                partial[c, row, b] += 1.0
    counts: np.ndarray = partial.sum(axis=0)
    return counts


@numba.njit(parallel=True, nogil=True, cache=True)
def _count_kernel(pixel: np.ndarray, n_pixels: int, n_chunks: int) -> np.ndarray:
    partial = np.zeros((n_chunks, n_pixels), np.int64)
    n = pixel.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        for i in range(c * size, min(n, (c + 1) * size)):
            if pixel[i] < n_pixels:
                partial[c, pixel[i]] += 1
    counts: np.ndarray = partial.sum(axis=0)
    return counts


def counts_per_pixel(pixel: np.ndarray, n_pixels: int) -> np.ndarray:
    """Events per pixel id ``0..n_pixels-1`` (``np.bincount`` without its int64 copy of the ids)."""
    n_chunks = max(1, min(numba.get_num_threads() * 2, pixel.shape[0] // 1_000_000 + 1))
    return _count_kernel(pixel, n_pixels, n_chunks)


def focus_events(
    *,
    pixel: np.ndarray,
    tof_us: np.ndarray,
    group_of_pixel: np.ndarray,
    table: DiffCalTable,
    d_edges_angstrom: np.ndarray,
) -> FocusedSpectra:
    """Histogram events of pixels in use into one log-d spectrum per group.

    ``d_edges_angstrom`` must be logarithmic (see :func:`log_d_edges`); pixels with ``use == 0``
    or group 0 are left out.
    """
    group_ids = np.unique(group_of_pixel[group_of_pixel > 0]).astype(np.int32)
    row_of_pixel = np.where((group_of_pixel > 0) & (table.use > 0), np.searchsorted(group_ids, group_of_pixel), -1)
    log_step = np.log(d_edges_angstrom[1] / d_edges_angstrom[0])
    n_chunks = max(1, min(numba.get_num_threads() * 2, pixel.shape[0] // 1_000_000 + 1))
    counts = _focus_kernel(
        pixel, tof_us, row_of_pixel.astype(np.int32), table.difc, table.difa, table.tzero,
        np.log(d_edges_angstrom[0]), 1.0 / log_step, d_edges_angstrom.shape[0] - 1, group_ids.shape[0], n_chunks,
    )
    return FocusedSpectra(group_ids=group_ids, d_edges_angstrom=d_edges_angstrom, counts=counts)
