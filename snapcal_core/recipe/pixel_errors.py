"""Standard errors of the pixel offsets: the Cramer-Rao bound of a pixel with the group's shape,
and the sandwich estimate of the likelihood correlation (numba, called per pixel by
:func:`snapcal_core.recipe.pixel_kernels.cross_correlate`)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def window_information(ref: np.ndarray, floor: float, m: int, offsets: np.ndarray, nbins: np.ndarray,
                       count: int) -> np.ndarray:
    """Fisher information on the lag per count in each window's core, for the shape ``ref``:
    ``sum_b (r'_b)^2 / (r_b R)`` (``R``: the core sum; ``r'``: central difference), so a pixel with
    ``N_w`` counts in window ``w`` has the Cramer-Rao bound ``1 / sqrt(sum_w N_w I_w)`` bins."""
    out = np.zeros(count)
    for w in range(count):
        o, n = offsets[w], nbins[w]
        ref_sum = 0.0
        for b in range(m, n - m):
            ref_sum += max(ref[o + b], floor)
        acc = 0.0
        for b in range(m, n - m):
            dl = 0.5 * (ref[o + b + 1] - ref[o + b - 1])
            acc += dl * dl / (max(ref[o + b], floor) * ref_sum)
        out[w] = acc
    return out


@numba.njit(nogil=True, cache=True)
def sandwich_sigma(p: np.ndarray, ref: np.ndarray, floor: float, lag: int, m: int, offsets: np.ndarray,
                   nbins: np.ndarray, count: int) -> float:
    """Standard error of the lag solving ``sum_b p_b u_b(lag) = 0`` with the score
    ``u_b = r'_{b+lag}/r_{b+lag} - R'/R`` (R = window sum of r):
    ``sqrt(sum p u^2) / |sum p u'|`` (Poisson variance of p; robust to a mismatched shape)."""
    num = 0.0
    den = 0.0
    for w in range(count):
        o, n = offsets[w], nbins[w]
        big_r = 0.0
        big_d = 0.0
        for j in range(max(1, m + lag), min(n - 1, n - m + lag)):
            big_r += max(ref[o + j], floor)
            big_d += 0.5 * (ref[o + j + 1] - ref[o + j - 1])
        mean_score = big_d / big_r if big_r > 0.0 else 0.0
        for b in range(m, n - m):
            j = b + lag
            if p[o + b] == 0.0 or j < 1 or j >= n - 1:
                continue
            r0 = max(ref[o + j], floor)
            d1 = 0.5 * (ref[o + j + 1] - ref[o + j - 1]) / r0
            d2 = (ref[o + j + 1] - 2.0 * ref[o + j] + ref[o + j - 1]) / r0
            u = d1 - mean_score
            num += p[o + b] * u * u
            den += p[o + b] * (d2 - d1 * d1)
    return np.sqrt(num) / abs(den) if den != 0.0 else np.inf
