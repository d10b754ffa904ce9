"""Numba kernels of the pixel step: sort events by pixel, windowed log-d histograms, cross-correlation.

Histograms are compact: each pixel has one row holding only the bins of its group's windows
(concatenated), never the full d range.
"""

from __future__ import annotations

import numba
import numpy as np

from snapcal_core.instrument.tof import d_from_tof_scalar
from snapcal_core.recipe.pixel_errors import sandwich_sigma, window_information


@numba.njit(nogil=True, cache=True)
def sort_by_pixel(pixel: np.ndarray, tof: np.ndarray, n_pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counting sort: TOFs grouped by pixel, the start offset of each pixel (n_pixels + 1) and the
    middle of each pixel's block (n_pixels): inside a pixel's block the events of even index in the
    input come first, then the odd ones (each in input order), so the two halves of the events
    (``h::2``) are the blocks' two parts ``[start, mid)`` and ``[mid, start + 1)`` without a sort of their own."""
    counts = np.zeros(2 * n_pixels + 1, np.int64)
    for i in range(pixel.shape[0]):
        counts[2 * pixel[i] + (i & 1) + 1] += 1
    bounds = np.cumsum(counts)
    fill = bounds[:-1].copy()
    out = np.empty(tof.shape[0], np.float32)
    for i in range(pixel.shape[0]):
        key = 2 * pixel[i] + (i & 1)
        out[fill[key]] = tof[i]
        fill[key] += 1
    return out, bounds[::2].copy(), bounds[1::2].copy()


def window_histograms(sorted_tof: np.ndarray, first: np.ndarray, last: np.ndarray, row_group: np.ndarray, difc: np.ndarray,
                      difa: np.ndarray, tzero: np.ndarray, group_difc: np.ndarray, win_d: np.ndarray, win_lo: np.ndarray,
                      win_nbins: np.ndarray, win_offset: np.ndarray, win_count: np.ndarray, inv_log_step: float,
                      row_len: int) -> np.ndarray:
    """Counts per pixel in its group's windows (see :func:`_fill_window_histograms`) of the events
    ``sorted_tof[first[p]:last[p]]`` of each pixel ``p``.

    The array is uint16 when no pixel has 65,535 events or more (then no bin can overflow): native
    pixels of a 1e8-event run hold ~100 events each, and 1.18 M pixels x ~1,000 window bins take
    2.4 GB instead of 4.8 GB in float32 (which is used otherwise)."""
    n_pixels = first.shape[0]
    most = int((last - first).max()) if n_pixels else 0
    out = np.zeros((n_pixels, row_len), np.uint16 if most < np.iinfo(np.uint16).max else np.float32)
    _fill_window_histograms(out, sorted_tof, first, last, row_group, difc, difa, tzero, group_difc, win_d, win_lo,
                            win_nbins, win_offset, win_count, inv_log_step)
    return out


@numba.njit(parallel=True, nogil=True, cache=True)
def _fill_window_histograms(out: np.ndarray, sorted_tof: np.ndarray, first: np.ndarray, last: np.ndarray,
                            row_group: np.ndarray,
                            difc: np.ndarray, difa: np.ndarray, tzero: np.ndarray, group_difc: np.ndarray,
                            win_d: np.ndarray, win_lo: np.ndarray, win_nbins: np.ndarray, win_offset: np.ndarray,
                            win_count: np.ndarray, inv_log_step: float) -> None:
    """Counts per pixel in the log bins of its group's windows, in TOF-translated d.

    An event of pixel p near the window's peak d_w is placed at
    ``d'' = d_w + (d - d_w) * DIFC_p / DIFC_g`` (``DIFC_g``: the group's mean): a shift of TOF
    rather than a scaling, so the TOF-constant peak shape (back-to-back exponential tails) looks
    the same in every pixel and cross-correlation is not biased by it. At convergence d'' = d.
    Row ``p`` is pixel ``p``; ``row_group[p]`` is the group row (-1: skip). Window ``w`` of group
    row ``g`` starts at ``log d'' = win_lo[g, w]``, has ``win_nbins[g, w]`` bins and sits at
    column ``win_offset[g, w]`` of the compact row.
    """
    n_pixels = first.shape[0]
    for p in numba.prange(n_pixels):
        g = row_group[p]
        if g < 0:
            continue
        stretch = difc[p] / group_difc[g]
        n_w = win_count[g]
        lo_d = np.empty(n_w)
        hi_d = np.empty(n_w)
        for w in range(n_w):  # window edges back in this pixel's plain d: one compare per event and window
            lo_d[w] = win_d[g, w] + (np.exp(win_lo[g, w]) - win_d[g, w]) / stretch
            hi_d[w] = win_d[g, w] + (np.exp(win_lo[g, w] + win_nbins[g, w] / inv_log_step) - win_d[g, w]) / stretch
        for i in range(first[p], last[p]):
            d = d_from_tof_scalar(sorted_tof[i], difc[p], difa[p], tzero[p])
            for w in range(n_w):
                if lo_d[w] <= d < hi_d[w]:
                    dd = win_d[g, w] + (d - win_d[g, w]) * stretch
                    b = int(np.floor((np.log(dd) - win_lo[g, w]) * inv_log_step))
                    if 0 <= b < win_nbins[g, w]:
                        out[p, win_offset[g, w] + b] += 1
                    break


@numba.njit(parallel=True, nogil=True, cache=True)
def cross_correlate(hist: np.ndarray, reference: np.ndarray, row_group: np.ndarray, use: np.ndarray,
                    win_nbins: np.ndarray, win_offset: np.ndarray, win_count: np.ndarray,
                    max_lag: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Signed sub-bin offset of each pixel against its group reference (own counts removed).

    The correlation is the Poisson log-likelihood of the pixel's counts p for the reference
    shape r moved by ``lag`` bins: ``L(lag) = sum_b p_b log r_{b+lag} - N log sum_b r_{b+lag}``
    (a cross-correlation of p with log r, normalised over the overlap). Unlike the plain
    ``sum p r`` it reaches the counting-statistics bound (plain CC of a Gaussian peak loses ~35 %
    in precision). ``offset`` = lag of the maximum, refined by a parabola through three points:
    the pixel's peaks sit ``-offset`` bins from the reference's. Its standard error is the
    sandwich estimate of :func:`~snapcal_core.recipe.pixel_errors.sandwich_sigma` (right even when
    the reference shape is not exactly the pixel's), floored at the Cramer-Rao bound (the sandwich
    from one pixel's counts is noisy, and below the bound it is certainly too small).

    Sparse pixels (native mode, a few dozen counts, fewer non-zero bins than an eighth of the row)
    differ in three ways: the whole lags are searched with the group's own sum and tabulated window
    sums (:func:`_likelihood_sparse`, no logarithm per lag); the maximum is then found on
    continuous lags (:func:`_continuous_maximum`), since a parabola through whole lags locks their
    offsets onto whole bins; and their error is the Cramer-Rao bound, since a sandwich from so few
    counts is itself noise. Also returned: the Cramer-Rao bound for a pixel with the reference
    shape and the pixel's counts (:func:`~snapcal_core.recipe.pixel_errors.window_information`),
    and a failure flag.
    Per pixel, the row is read once (prefix sums and non-zero core bins in one pass).
    """
    n_pixels = hist.shape[0]
    n_lags = 2 * max_lag + 1
    m = max_lag  # every window is padded by max_lag bins on both sides (plan_windows)
    n_groups = reference.shape[0]
    floors = np.empty(n_groups)
    log_refs = np.empty_like(reference)
    prefix = np.zeros((n_groups, reference.shape[1] + 1))
    info = np.zeros((n_groups, win_count.max()))  # Fisher information per count of each group window
    log_norm = np.zeros((n_groups, win_count.max(), n_lags))  # log of each window core's sum at every lag
    for g in range(n_groups):  # once per group, not per pixel
        floors[g] = 1e-3 * max(reference[g].max(), 1e-12)
        clipped = np.maximum(reference[g], floors[g])
        log_refs[g] = np.log(clipped)
        prefix[g, 1:] = np.cumsum(clipped)
        info[g, : win_count[g]] = window_information(reference[g], floors[g], m, win_offset[g], win_nbins[g], win_count[g])
        for w in range(win_count[g]):
            for k in range(n_lags):
                a, z = win_offset[g, w] + m + k - max_lag, win_offset[g, w] + win_nbins[g, w] - m + k - max_lag
                log_norm[g, w, k] = np.log(max(prefix[g, z] - prefix[g, a], floors[g]))
    offset = np.full(n_pixels, np.nan)
    sigma = np.full(n_pixels, np.nan)
    bound = np.full(n_pixels, np.nan)
    failed = np.zeros(n_pixels, np.bool_)
    for p in numba.prange(n_pixels):
        g = row_group[p]
        if g < 0:
            continue
        floor = floors[g]
        own = 1.0 if use[p] > 0 else 0.0
        # one pass over the pixel's row: prefix sums, the non-zero bins of each window's core (the core's
        # bins stay inside the window at every lag) as (window-local bin, window, count), counts per window
        pixel_prefix = np.zeros(hist.shape[1] + 1)
        nz_b = np.empty(hist.shape[1], np.int64)
        nz_w = np.empty(hist.shape[1], np.int64)
        nz_c = np.empty(hist.shape[1])
        w_counts = np.zeros(win_count[g])
        n_nz = 0
        for w in range(win_count[g]):
            o, n = win_offset[g, w], win_nbins[g, w]
            for b in range(n):
                c = float(hist[p, o + b])  # in float64 whatever the histogram's dtype
                pixel_prefix[o + b + 1] = pixel_prefix[o + b] + c
                if c != 0.0 and m <= b < n - m:
                    nz_b[n_nz], nz_w[n_nz], nz_c[n_nz] = b, w, c
                    w_counts[w] += c
                    n_nz += 1
        nz_b, nz_w, nz_c = nz_b[:n_nz], nz_w[:n_nz], nz_c[:n_nz]
        total = w_counts.sum()
        if total == 0.0:
            failed[p] = True
            continue
        # dense pixels (Lite): the reference without the pixel's counts and its own log table; sparse pixels
        # (native): the group's tables to bracket the maximum, then the exact likelihood (no per-bin work)
        sparse = n_nz * 8 < hist.shape[1]
        ref = reference[g] if sparse or use[p] == 0 else reference[g] - hist[p]
        log_tab = log_refs[g] if sparse or use[p] == 0 else _log_without_own(log_refs[g], ref, hist[p], floor)
        acc = np.zeros(win_count[g])
        like = np.full(n_lags, -np.inf)
        # coarse search on every `stride`-th lag, then every lag around the best (L is smooth on the
        # scale of a peak width, several bins)
        stride = 3
        best = 0
        for k in range(0, n_lags, stride):
            like[k] = _integer_likelihood(sparse, k, max_lag, pixel_prefix, nz_b, nz_w, nz_c, w_counts, log_tab,
                                          log_norm[g], prefix[g], own, floor, win_offset[g], win_nbins[g], win_count[g],
                                          acc)
            if like[k] > like[best]:
                best = k
        for k in range(max(0, best - stride), min(n_lags, best + stride + 1)):
            if like[k] == -np.inf:
                like[k] = _integer_likelihood(sparse, k, max_lag, pixel_prefix, nz_b, nz_w, nz_c, w_counts, log_tab,
                                              log_norm[g], prefix[g], own, floor, win_offset[g], win_nbins[g],
                                              win_count[g], acc)
        k = int(np.argmax(like))
        if k == 0 or k == n_lags - 1 or like[k - 1] == -np.inf or like[k + 1] == -np.inf:
            failed[p] = True
            continue
        curv = like[k + 1] - 2.0 * like[k] + like[k - 1]
        if not curv < 0.0:
            failed[p] = True
            continue
        if sparse:  # sparse pixel: maximise L over continuous lags (a parabola locks onto whole bins)
            offset[p] = _continuous_maximum(k - max_lag - 1.0, k - max_lag + 1.0, hist[p], nz_b, nz_w, nz_c, w_counts,
                                            reference[g], own, floor, prefix[g], pixel_prefix, m, win_offset[g],
                                            win_nbins[g], win_count[g], max_lag)
            # a sandwich from a few dozen counts is itself too noisy: report the expected information, from
            # the group's shape (the pixel's own few counts change it by a fraction of a per mille)
            fisher = (w_counts * info[g, : win_count[g]]).sum()
            bound[p] = 1.0 / np.sqrt(fisher) if fisher > 0.0 else np.inf
            sigma[p] = bound[p]
            continue
        offset[p] = k - max_lag + 0.5 * (like[k - 1] - like[k + 1]) / curv
        fisher = (w_counts * window_information(ref, floor, m, win_offset[g], win_nbins[g], win_count[g])).sum()
        bound[p] = 1.0 / np.sqrt(fisher) if fisher > 0.0 else np.inf
        # the sandwich grows where the shape is mismatched, but it is itself a noisy estimate; below the
        # Cramer-Rao bound it is certainly too small (no unbiased estimate does better), so it is floored there
        sigma[p] = max(sandwich_sigma(hist[p], ref, floor, k - max_lag, m, win_offset[g], win_nbins[g],
                                       win_count[g]), bound[p])
    return offset, sigma, bound, failed


@numba.njit(nogil=True, cache=True)
def _log_without_own(log_group: np.ndarray, ref: np.ndarray, own: np.ndarray, floor: float) -> np.ndarray:
    """``log(max(ref, floor))`` for ``ref`` = the group sum without the pixel's counts ``own``, from
    the group's table ``log_group`` (= ``log(max(R, floor))``): only the bins where the pixel has
    counts differ, so only they take a logarithm (a Lite row has ~1,000 bins, a few hundred with counts)."""
    out = log_group.copy()
    for j in range(own.shape[0]):
        if own[j] != 0:
            out[j] = np.log(max(ref[j], floor))
    return out


@numba.njit(nogil=True, cache=True)
def _keys_weights(f: float) -> tuple[float, float, float, float]:
    """Cubic-convolution weights (Keys, a = -1/2) of samples -1, 0, 1, 2 at fraction ``f``."""
    f2, f3 = f * f, f * f * f
    return (-f3 + 2.0 * f2 - f) / 2.0, (3.0 * f3 - 5.0 * f2 + 2.0) / 2.0, (-3.0 * f3 + 4.0 * f2 + f) / 2.0, (f3 - f2) / 2.0


@numba.njit(nogil=True, cache=True)
def _core_sum(prefix: np.ndarray, pixel_prefix: np.ndarray, own: float, o: int, n: int, m: int, lag: int) -> float:
    """Sum of ``R - own * p`` over the window's core moved by ``lag`` (clamped to the window)."""
    a = min(max(o + m + lag, o), o + n)
    z = min(max(o + n - m + lag, o), o + n)
    return float(prefix[z] - prefix[a] - own * (pixel_prefix[z] - pixel_prefix[a]))


@numba.njit(nogil=True, cache=True)
def _likelihood_at(x: float, p: np.ndarray, nz_b: np.ndarray, nz_w: np.ndarray, nz_c: np.ndarray, w_counts: np.ndarray,
                   big_r: np.ndarray, own: float, floor: float, prefix: np.ndarray, pixel_prefix: np.ndarray, m: int,
                   offsets: np.ndarray, nbins: np.ndarray, count: int) -> float:
    """The likelihood of :func:`_likelihood` at a fractional lag ``x``: the reference between its bins by
    cubic convolution. The window sums use the same weights on the integer-lag sums, which is exact,
    since interpolation is linear in the reference."""
    lag0 = int(np.floor(x))
    wts = _keys_weights(x - lag0)
    total = 0.0
    for i in range(nz_b.shape[0]):
        o, n = offsets[nz_w[i]], nbins[nz_w[i]]
        val = 0.0
        for q in range(4):
            j = o + min(max(nz_b[i] + lag0 + q - 1, 0), n - 1)
            val += wts[q] * (big_r[j] - own * p[j])
        total += nz_c[i] * np.log(max(val, floor))
    for w in range(count):
        if w_counts[w] == 0.0:
            continue
        norm = 0.0
        for q in range(4):
            norm += wts[q] * _core_sum(prefix, pixel_prefix, own, offsets[w], nbins[w], m, lag0 + q - 1)
        total -= w_counts[w] * np.log(max(norm, floor))
    return total


@numba.njit(nogil=True, cache=True)
def _continuous_maximum(lo: float, hi: float, p: np.ndarray, nz_b: np.ndarray, nz_w: np.ndarray, nz_c: np.ndarray,
                        w_counts: np.ndarray, big_r: np.ndarray, own: float, floor: float, prefix: np.ndarray,
                        pixel_prefix: np.ndarray, m: int, offsets: np.ndarray, nbins: np.ndarray, count: int,
                        max_lag: int) -> float:
    """Maximum of :func:`_likelihood_at` on ``[lo, hi]`` (lags, to 1e-3 bins) by Brent's method:
    parabolic steps where the function allows, golden-section steps otherwise (Brent 1973,
    *Algorithms for Minimization without Derivatives*, ch. 5), on ``-L``."""
    golden = 0.3819660112501051
    tol = 1e-3
    a, b = max(lo, -max_lag + 1.0), min(hi, max_lag - 2.0)
    x = w = v = a + golden * (b - a)
    fx = -_likelihood_at(x, p, nz_b, nz_w, nz_c, w_counts, big_r, own, floor, prefix, pixel_prefix, m, offsets, nbins,
                         count)
    fw = fv = fx
    d = e = 0.0
    for _ in range(100):
        xm = 0.5 * (a + b)
        if abs(x - xm) <= 2.0 * tol - 0.5 * (b - a):
            break
        golden_step = True
        if abs(e) > tol:  # try a parabola through x, w, v
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            t = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                t = -t
            q = abs(q)
            if abs(t) < abs(0.5 * q * e) and q * (a - x) < t < q * (b - x):
                e, d = d, t / q
                golden_step = False
                if (x + d) - a < 2.0 * tol or b - (x + d) < 2.0 * tol:
                    d = tol if xm >= x else -tol
        if golden_step:
            e = (a - x) if x >= xm else (b - x)
            d = golden * e
        u = x + d if abs(d) >= tol else x + (tol if d >= 0.0 else -tol)
        fu = -_likelihood_at(u, p, nz_b, nz_w, nz_c, w_counts, big_r, own, floor, prefix, pixel_prefix, m, offsets,
                             nbins, count)
        if fu <= fx:
            if u >= x:
                a = x
            else:
                b = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, w = w, u
                fv, fw = fw, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
    return x


@numba.njit(nogil=True, cache=True)
def _integer_likelihood(sparse: bool, k: int, max_lag: int, pixel_prefix: np.ndarray, nz_b: np.ndarray,
                        nz_w: np.ndarray, nz_c: np.ndarray, w_counts: np.ndarray, log_tab: np.ndarray,
                        log_norm: np.ndarray, prefix: np.ndarray, own: float, floor: float, offsets: np.ndarray,
                        nbins: np.ndarray, count: int, acc: np.ndarray) -> float:
    """The likelihood at whole lag ``k - max_lag``: :func:`_likelihood` for dense pixels,
    :func:`_likelihood_sparse` (only to bracket the maximum) for sparse ones."""
    if sparse:
        return _likelihood_sparse(nz_b, nz_w, nz_c, w_counts, log_tab, log_norm, k, max_lag, offsets, count)
    return _likelihood(pixel_prefix, nz_b, nz_w, nz_c, w_counts, log_tab, prefix, own, floor, k - max_lag, max_lag,
                       offsets, nbins, count, acc)


@numba.njit(nogil=True, cache=True)
def _likelihood(pixel_prefix: np.ndarray, nz_b: np.ndarray, nz_w: np.ndarray, nz_c: np.ndarray, w_counts: np.ndarray,
                log_r: np.ndarray, prefix: np.ndarray, own: float, floor: float, lag: int, m: int, offsets: np.ndarray,
                nbins: np.ndarray, count: int, acc: np.ndarray) -> float:
    """``sum_b p_b log r_{b+lag} - N_w log sum_b r_{b+lag}`` over the windows, with ``r = R - own * p``
    (the group sum without the pixel; ``log_r`` its log): the multinomial likelihood of the pixel's
    counts in the window's *core* (``m`` bins in from each end, ``N_w`` of them) for the reference
    moved by ``lag``, ``|lag| <= m``, so every core bin has a model value at every lag. (Summing
    over the whole window instead drops the pixel's edge bins at non-zero lags, and that biased the
    offset towards zero: about half the true shift on synthetic data, so the loop needed iterations
    to converge and stopped with a residual.) Cost per lag: the pixel's non-zero bins (``nz_*``:
    window-local bin, window, count) plus O(1) per window (``sum r`` from prefix sums of the group
    and of the pixel)."""
    acc[:] = 0.0
    for i in range(nz_b.shape[0]):
        acc[nz_w[i]] += nz_c[i] * log_r[offsets[nz_w[i]] + nz_b[i] + lag]
    total = 0.0
    for w in range(count):
        if w_counts[w] == 0.0:
            continue
        o, n = offsets[w], nbins[w]
        a, z = o + m + lag, o + n - m + lag
        norm = prefix[z] - prefix[a] - own * (pixel_prefix[z] - pixel_prefix[a])
        total += acc[w] - w_counts[w] * np.log(max(norm, floor))
    return total


@numba.njit(nogil=True, cache=True)
def _likelihood_sparse(nz_b: np.ndarray, nz_w: np.ndarray, nz_c: np.ndarray, w_counts: np.ndarray, log_r: np.ndarray,
                       log_norm: np.ndarray, k: int, max_lag: int, offsets: np.ndarray, count: int) -> float:
    """:func:`_likelihood` at whole lag ``k - max_lag`` with the group's own sum for ``r`` and the
    window sums' logs from a table: a pixel with a few dozen counts changes the group's ~1e6 by
    ~1e-5, so this only serves to bracket the maximum, which :func:`_likelihood_at` then refines
    exactly. Cost: one table read per non-zero bin and per window, no logarithm."""
    total = 0.0
    for i in range(nz_b.shape[0]):
        total += nz_c[i] * log_r[offsets[nz_w[i]] + nz_b[i] + k - max_lag]
    for w in range(count):
        total -= w_counts[w] * log_norm[w, k]
    return total


@numba.njit(nogil=True, cache=True)
def group_sums(hist: np.ndarray, row_group: np.ndarray, use: np.ndarray, n_groups: int) -> np.ndarray:
    """Summed spectrum of the pixels in use of each group row."""
    out = np.zeros((n_groups, hist.shape[1]))
    for p in range(hist.shape[0]):
        g = row_group[p]
        if g >= 0 and use[p] > 0:
            out[g] += hist[p]
    return out
