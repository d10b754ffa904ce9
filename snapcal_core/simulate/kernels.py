"""Numba kernel that turns uniform/normal/exponential random numbers into Bragg event TOFs."""

from __future__ import annotations

import numba
import numpy as np

from snapcal_core.instrument.tof import tof_from_d_scalar


@numba.njit(parallel=True, nogil=True, cache=True)
def bragg_tof_kernel(
    pixel: np.ndarray, u_refl: np.ndarray, u_side: np.ndarray, gauss: np.ndarray, expo: np.ndarray,  # per event
    sin_theta: np.ndarray, sigma_rel: np.ndarray, difc: np.ndarray, difa: np.ndarray, tzero: np.ndarray,  # per pixel
    refl_d: np.ndarray, refl_intensity: np.ndarray,  # per reflection
    lam_lo: float, lam_hi: float, lam_t: float, epi: float,  # constants
    beta_a: float, beta_b: float, alpha_over_beta: float,  # tail law (instrument/resolution.py)
    out_tof: np.ndarray,
) -> None:
    """TOF of each Bragg event: pick a reflection by its weight in the event's pixel, then
    ``DIFC d + DIFA d^2 + TZERO`` (instrument/tof.py) + Gaussian + back-to-back exponential of decay
    ``beta_a + beta_b / d^4`` and rise ``alpha_over_beta`` times that (see physics.py)."""
    n_refl = refl_d.shape[0]
    for i in numba.prange(pixel.shape[0]):
        p = pixel[i]
        weights = np.empty(n_refl)
        total = 0.0
        for h in range(n_refl):
            lam = 2.0 * refl_d[h] * sin_theta[p]
            w = 0.0
            if lam_lo <= lam <= lam_hi:
                w = refl_intensity[h] * (lam**-5 * np.exp(-((lam_t / lam) ** 2)) + epi / lam)
            total += w
            weights[h] = total
        target = u_refl[i] * total
        h = 0
        while h < n_refl - 1 and weights[h] < target:
            h += 1
        d = refl_d[h]
        t0 = tof_from_d_scalar(d, difc[p], difa[p], tzero[p])
        beta = beta_a + beta_b / d**4
        alpha = alpha_over_beta * beta
        if u_side[i] < alpha / (alpha + beta):
            tail = expo[i] / beta
        else:
            tail = -expo[i] / alpha
        out_tof[i] = t0 + gauss[i] * sigma_rel[p] * t0 + tail


@numba.njit(nogil=True, cache=True)
def insert_sorted_kernel(old: np.ndarray, at: np.ndarray, new: np.ndarray, out: np.ndarray) -> None:
    """``out`` = ``old`` with ``new[j]`` placed before ``old[at[j]]`` (``at`` sorted, as ``np.insert``),
    in one pass: ``out.size == old.size + new.size``."""
    j = 0
    k = 0
    for i in range(old.shape[0] + 1):
        while j < at.shape[0] and at[j] == i:
            out[k] = new[j]
            k += 1
            j += 1
        if i < old.shape[0]:
            out[k] = old[i]
            k += 1


def insert_sorted(old: np.ndarray, at: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``np.insert(old, at, new)`` for sorted ``at`` in ``[0, old.size]`` (the result has ``old``'s dtype)."""
    at = np.ascontiguousarray(at, dtype=np.int64)
    if at.size and (at[0] < 0 or at[-1] > old.size or np.any(at[1:] < at[:-1])):
        raise ValueError("insert positions must be sorted and lie in 0..len(old)")
    out = np.empty(old.size + at.size, dtype=old.dtype)
    insert_sorted_kernel(old, at, np.ascontiguousarray(new, dtype=old.dtype), out)
    return out
