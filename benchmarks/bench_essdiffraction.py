"""Side by side: snapcal's TOF -> d conversion + per-pixel histogram vs essdiffraction + scipp.

Both sides get the same events (same order), the same per-pixel DIFC/DIFA/TZERO and the same
bin edges, and produce the same thing: counts per pixel and d bin, over the full d range.

(a) snapcal: one ``@numba.njit(parallel=True, nogil=True, cache=True)`` kernel defined here
    (:func:`_d_histograms_into`, called by :func:`snapcal_d_histograms`, which allocates the
    output with numpy; snapcal_core has no kernel for a *full-range* per-pixel d
    histogram on given edges: ``focus._focus_kernel`` sums groups and ``window_histograms`` only
    fills peak windows). It calls snapcal's own ``d_from_tof_scalar``
    (``snapcal_core/instrument/tof.py``) per event and bins on the explicit edges. Input: TOFs
    grouped by pixel with pixel start offsets, made by snapcal's ``sort_by_pixel``.
(b) essdiffraction: ``ess.powder.conversion.to_dspacing_with_calibration(data, calibration)``
    then ``.hist(dspacing=edges)``. ``data`` is a binned ``sc.DataArray`` (dim
    ``detector_number``) whose events carry a ``tof`` coord (float32, us) and float32 weights 1
    (no variances: the cheaper case for scipp); ``calibration`` is an ``sc.Dataset`` with
    ``difc`` [us/angstrom], ``difa`` [us/angstrom^2], ``tzero`` [us] on the same
    ``detector_number`` coord. Its event buffer is built from the very arrays (a) uses.

Timed: only the conversion + histogram calls (outputs allocated inside), median of
``--repeats``, after a warm-up on a small slice (numba compile / cache load, scipp first-call
overheads), with ``gc.collect()`` and a 0.5 s pause before every timed call so that idle worker
threads of the other side (OpenMP / TBB spin briefly) do not compete. Building the inputs (random events, sort by
pixel, scipp structures) is not timed;
``sort_by_pixel`` is timed separately and reported on its own row (not in the ratio).

Bin semantics on both sides: event with d goes to bin i iff ``edges[i] <= d < edges[i+1]``
(scipp's rule; scipp finds i by binary search for non-linear edges); the snapcal kernel reads
a guess of i from a lookup table of equal d cells narrower than any bin (no log, no search)
and corrects it against the explicit edges, so the binning itself is exact for any edges. The d
formulas differ: snapcal uses ``d = (t - T0) / (DIFC/2 (1 + sqrt(1 + 4 DIFA (t - T0) / DIFC^2)))``, essdiffraction
``d = (sqrt((x - T0 + t)/x) - 1) DIFC/(2 DIFA)`` with ``x = DIFC^2/(4 DIFA)``; they are equal
mathematically but round differently (the latter cancels ``sqrt(1 + eps) - 1`` when DIFA is
small). So a few events that sit within rounding of a bin edge can land one bin apart. The
check reports: identical or not; the largest relative d difference and each side's largest
error against a long-double reference (first 1e6 events); if not identical, how many events
change bin, how close to their edge they are and which bin the reference picks; and it re-histograms
essdiffraction's own d values with the snapcal kernel's binning to show that the histograms are
then identical (i.e. any difference is the d formula's rounding, nothing else).

Data: ``--events`` uniform random events (seeded, like ``bench_load.py``): pixel ids uniform
over ``--pixels`` (default 18432 = Lite), TOF uniform in 2600-14000 us (float32). DIFC per pixel
from ``snap_geometry(REFERENCE_ARC_DEG, REFERENCE_LIN_M, lite=True)`` times ``1 + 1e-3 N(0,1)``,
DIFA uniform in [-2, 2] us/angstrom^2 and TZERO uniform in [-5, 5] us (nonzero, so all three
constants are exercised). Edges: ``log_d_edges`` (log step ``--log-step``) over the whole d range
of the events, or ``--linear`` edges with the same number of bins.

Benchmark environment (separate from the project's .venv; ``benchmarks/_work`` is gitignored)::

    python3 -m venv /work/main/benchmarks/_work/ess-venv
    /work/main/benchmarks/_work/ess-venv/bin/pip install --upgrade pip
    /work/main/benchmarks/_work/ess-venv/bin/pip install essdiffraction
    /work/main/benchmarks/_work/ess-venv/bin/pip install -e /work/main

(measured with essdiffraction 26.8.0, scipp 26.8.0, scippneutron 26.7.0, numba 0.68.1,
numpy 2.4.6, Python 3.11.7; installing snapcal after essdiffraction only moved python-dateutil
from 4.0.0 to 2.9.0.post0.)

Usage::

    benchmarks/_work/ess-venv/bin/python benchmarks/bench_essdiffraction.py --events 1e7
    benchmarks/_work/ess-venv/bin/python benchmarks/bench_essdiffraction.py --events 1e8

Prints a Markdown table (and the check) for one size per run.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # snapcal, also if not pip-installed

from snapcal_core.constants import REFERENCE_ARC_DEG, REFERENCE_LIN_M  # noqa: E402
from snapcal_core.instrument.geometry import snap_geometry  # noqa: E402
from snapcal_core.instrument.tof import d_from_tof_scalar  # noqa: E402
from snapcal_core.recipe.focus import log_d_edges  # noqa: E402
from snapcal_core.recipe.pixel_kernels import sort_by_pixel  # noqa: E402

TOF_RANGE_US = (2600.0, 14000.0)


# --------------------------------------------------------------------------------------------
# snapcal side
# --------------------------------------------------------------------------------------------
@numba.njit(nogil=True, cache=True, inline="always")
def _bin_of(d, edges, lut, lut_scale):
    """Bin i with ``edges[i] <= d < edges[i+1]``, or -1 (also for NaN).

    ``lut[j]`` is the bin holding the start of the j-th of ``lut.shape[0]`` equal cells over
    ``[edges[0], edges[-1])`` (cells narrower than the narrowest bin): one multiply and one
    table read give the bin or its left neighbour; the compares make it exact for any edges.
    """
    n_bins = edges.shape[0] - 1
    lo = edges[0]
    if not (d >= lo and d < edges[n_bins]):
        return -1
    b = lut[min(int((d - lo) * lut_scale), lut.shape[0] - 1)]
    while d >= edges[b + 1]:
        b += 1
    while d < edges[b]:
        b -= 1
    return b


def bin_lookup(edges: np.ndarray) -> tuple[np.ndarray, float]:
    """The table of :func:`_bin_of`: at least 4 cells per bin, cells narrower than every bin."""
    n_bins = edges.shape[0] - 1
    n_cells = int(min(max(4 * n_bins, np.ceil(2.0 * (edges[-1] - edges[0]) / np.diff(edges).min())), 1 << 22))
    scale = n_cells / (edges[-1] - edges[0])
    cell_lo = edges[0] + np.arange(n_cells) / scale
    lut = np.clip(np.searchsorted(edges, cell_lo, side="right") - 1, 0, n_bins - 1).astype(np.int32)
    return lut, scale


@numba.njit(parallel=True, nogil=True, cache=True)
def _d_histograms_into(out, sorted_tof, start, difc, difa, tzero, edges, lut, lut_scale):
    """Zero ``out`` (n_pixels, n_bins) and count each pixel's events converted with its DIFC/DIFA/TZERO."""
    for p in numba.prange(out.shape[0]):
        out[p, :] = 0.0
        c, a, t0 = difc[p], difa[p], tzero[p]
        for i in range(start[p], start[p + 1]):
            b = _bin_of(d_from_tof_scalar(sorted_tof[i], c, a, t0), edges, lut, lut_scale)
            if b >= 0:
                out[p, b] += 1.0


def snapcal_d_histograms(sorted_tof, start, difc, difa, tzero, edges, lut, lut_scale):
    """Counts per pixel and d bin (float32, like scipp's output for float32 weights).

    The output is allocated by numpy, which asks for transparent huge pages on large arrays
    (``madvise``); an array allocated inside the numba kernel gets 4 KiB pages and costs about
    0.2 s more in page faults for 18432 x 2674 bins on the benchmark machine.
    """
    out = np.empty((start.shape[0] - 1, edges.shape[0] - 1), np.float32)
    _d_histograms_into(out, sorted_tof, start, difc, difa, tzero, edges, lut, lut_scale)
    return out


# check only (not timed)
@numba.njit(parallel=True, nogil=True, cache=True)
def snapcal_d_values(sorted_tof, start, difc, difa, tzero):
    n_pixels = start.shape[0] - 1
    out = np.empty(sorted_tof.shape[0])
    for p in numba.prange(n_pixels):
        for i in range(start[p], start[p + 1]):
            out[i] = d_from_tof_scalar(sorted_tof[i], difc[p], difa[p], tzero[p])
    return out


@numba.njit(parallel=True, nogil=True, cache=True)
def _histograms_of_d_into(out, d, start, edges, lut, lut_scale):
    for p in numba.prange(out.shape[0]):
        out[p, :] = 0.0
        for i in range(start[p], start[p + 1]):
            b = _bin_of(d[i], edges, lut, lut_scale)
            if b >= 0:
                out[p, b] += 1.0


def histograms_of_d(d, start, edges, lut, lut_scale):
    """Same binning as :func:`snapcal_d_histograms`, of given d values (check only)."""
    out = np.empty((start.shape[0] - 1, edges.shape[0] - 1), np.float32)
    _histograms_of_d_into(out, d, start, edges, lut, lut_scale)
    return out


def reference_d(events: np.ndarray, sorted_tof, start, difc, difa, tzero) -> np.ndarray:
    """d of the given event indices in long double (x87 80-bit here), stable root form."""
    p = np.searchsorted(start, events, side="right") - 1
    ld = np.longdouble
    t = sorted_tof[events].astype(ld) - tzero[p].astype(ld)
    c, a = difc[p].astype(ld), difa[p].astype(ld)
    return (t / (c / 2 * (1 + np.sqrt(1 + 4 * a * t / (c * c))))).astype(np.float64)


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
def make_inputs(n_events: int, n_pixels: int, seed: int):
    rng = np.random.default_rng(seed)
    geo = snap_geometry(arc_deg=REFERENCE_ARC_DEG, lin_m=REFERENCE_LIN_M, lite=True).difc_us_per_angstrom
    difc = np.resize(geo, n_pixels) * (1.0 + 1e-3 * rng.standard_normal(n_pixels))
    difa = rng.uniform(-2.0, 2.0, n_pixels)
    tzero = rng.uniform(-5.0, 5.0, n_pixels)
    pixel = np.empty(n_events, np.int32)
    tof = np.empty(n_events, np.float32)
    chunk = 1 << 24
    for s in range(0, n_events, chunk):
        m = min(chunk, n_events - s)
        pixel[s : s + m] = rng.integers(0, n_pixels, m, dtype=np.int32)
        tof[s : s + m] = rng.uniform(*TOF_RANGE_US, m)
    return pixel, tof, difc, difa, tzero


def make_edges(difc, difa, tzero, log_step: float, linear: bool):
    """Edges over the d range of every pixel's TOF range (a little margin on both sides)."""
    d_lo = min(d_from_tof_scalar(TOF_RANGE_US[0], c, a, t) for c, a, t in zip(difc, difa, tzero))
    d_hi = max(d_from_tof_scalar(TOF_RANGE_US[1], c, a, t) for c, a, t in zip(difc, difa, tzero))
    edges = log_d_edges(d_min_angstrom=0.98 * d_lo, d_max_angstrom=1.02 * d_hi, log_step=log_step)
    if linear:
        edges = np.linspace(edges[0], edges[-1], edges.shape[0])
    return edges


def make_scipp_inputs(sorted_tof, start, difc, difa, tzero):
    import scipp as sc

    n_pixels = difc.shape[0]
    det = sc.arange("detector_number", n_pixels, unit=None)
    events = sc.DataArray(
        sc.ones(dims=["event"], shape=[sorted_tof.shape[0]], dtype="float32"),
        coords={"tof": sc.array(dims=["event"], values=sorted_tof, unit="us")},
    )
    begin = sc.array(dims=["detector_number"], values=start[:-1], unit=None)
    end = sc.array(dims=["detector_number"], values=start[1:], unit=None)
    data = sc.DataArray(sc.bins(begin=begin, end=end, dim="event", data=events), coords={"detector_number": det})
    calibration = sc.Dataset(
        {
            "difc": sc.array(dims=["detector_number"], values=difc, unit="us/angstrom"),
            "difa": sc.array(dims=["detector_number"], values=difa, unit="us/angstrom**2"),
            "tzero": sc.array(dims=["detector_number"], values=tzero, unit="us"),
        },
        coords={"detector_number": det.copy()},
    )
    return data, calibration


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------
def settle() -> None:
    """Collect garbage and pause, so neither side's idle worker threads (numba: OpenMP, scipp:
    TBB; both spin a little after parallel work) still compete for the 2 cores."""
    gc.collect()
    time.sleep(0.5)


def run_snapcal(sorted_tof, start, difc, difa, tzero, edge_args):
    t = time.perf_counter()
    h = snapcal_d_histograms(sorted_tof, start, difc, difa, tzero, *edge_args)
    return h, time.perf_counter() - t


def run_ess(data, calibration, edges_var):
    from ess.powder.conversion import to_dspacing_with_calibration

    t0 = time.perf_counter()
    converted = to_dspacing_with_calibration(data, calibration)
    t1 = time.perf_counter()
    h = converted.hist(dspacing=edges_var)
    t2 = time.perf_counter()
    return converted, h, t1 - t0, t2 - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=float, default=1e7, help="number of events (default 1e7)")
    parser.add_argument("--pixels", type=int, default=18432, help="number of pixels (default 18432, Lite)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (median reported)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-step", type=float, default=1e-3, help="relative bin width of the log d edges")
    parser.add_argument("--linear", action="store_true", help="linear d edges (same number of bins)")
    args = parser.parse_args()

    from importlib.metadata import version

    import scipp as sc

    n_events, n_pixels = int(args.events), args.pixels
    load0 = os.getloadavg()[0]

    # ---- inputs (not timed) ----
    pixel, tof, difc, difa, tzero = make_inputs(n_events, n_pixels, args.seed)
    edges = make_edges(difc, difa, tzero, args.log_step, args.linear)
    edge_args = (edges, *bin_lookup(edges))
    n_bins = edges.shape[0] - 1
    sort_by_pixel(pixel[:10], tof[:10], n_pixels)  # compile / load cache
    sort_times = []
    for _ in range(args.repeats):
        settle()
        t = time.perf_counter()
        sorted_tof, start, _ = sort_by_pixel(pixel, tof, n_pixels)
        sort_times.append(time.perf_counter() - t)
    del pixel, tof
    data, calibration = make_scipp_inputs(sorted_tof, start, difc, difa, tzero)
    edges_var = sc.array(dims=["dspacing"], values=edges, unit="angstrom")

    # ---- warm-up on a small slice ----
    k = min(n_pixels, 16)
    snapcal_d_histograms(sorted_tof, start[: k + 1], difc[:k], difa[:k], tzero[:k], *edge_args)
    run_ess(data["detector_number", :k], calibration["detector_number", :k], edges_var)

    # ---- timed ----
    snap_times, ess_conv, ess_hist, ess_total = [], [], [], []
    for _ in range(args.repeats):
        h_snap = h_ess = converted = None  # free the previous repeat's outputs first
        settle()
        h_snap, dt = run_snapcal(sorted_tof, start, difc, difa, tzero, edge_args)
        snap_times.append(dt)
        settle()
        converted, h_ess, dc, dh = run_ess(data, calibration, edges_var)
        ess_conv.append(dc), ess_hist.append(dh), ess_total.append(dc + dh)
    load1 = os.getloadavg()[0]

    t_snap, t_ess = statistics.median(snap_times), statistics.median(ess_total)
    t_sort = statistics.median(sort_times)
    ratio = t_ess / t_snap

    # ---- check (not timed) ----
    ess_counts = h_ess.values
    assert h_ess.dims == ("detector_number", "dspacing") and ess_counts.shape == h_snap.shape
    diff = np.abs(h_snap.astype(np.float64) - ess_counts.astype(np.float64))
    max_diff = float(diff.max())
    n_cells = int(np.count_nonzero(diff))
    check = [
        f"histograms: {n_pixels} pixels x {n_bins} bins; total counts snapcal {h_snap.sum(dtype=np.float64):.0f}, "
        f"essdiffraction {ess_counts.sum(dtype=np.float64):.0f} (of {n_events} events)",
        f"max |snapcal - essdiffraction| per cell: {max_diff:g} ({n_cells} cells differ)",
    ]
    buf = converted.bins.constituents
    assert np.array_equal(buf["begin"].values, start[:-1]) and np.array_equal(buf["end"].values, start[1:])
    d_ess = buf["data"].coords["dspacing"].values
    d_snap = snapcal_d_values(sorted_tof, start, difc, difa, tzero)
    rel = np.abs(d_snap - d_ess) / d_ess
    check.append(f"d values: max relative difference snapcal vs essdiffraction {rel.max():.2e} "
                 f"(median {np.median(rel):.2e}; {np.count_nonzero(d_snap != d_ess)} of {n_events} not bit-identical)")
    sample = np.arange(min(n_events, 1_000_000))  # the first events, for the reference d
    moved = np.zeros(0, np.int64)
    if max_diff != 0.0:
        b_snap = np.searchsorted(edges, d_snap, side="right") - 1
        b_ess = np.searchsorted(edges, d_ess, side="right") - 1
        moved = np.flatnonzero(b_snap != b_ess)
        edge = edges[np.maximum(b_snap[moved], b_ess[moved])]  # the edge between the two bins
        dist = np.maximum(np.abs(d_snap[moved] - edge), np.abs(d_ess[moved] - edge)) / edge
        b_ref = np.searchsorted(edges, reference_d(moved, sorted_tof, start, difc, difa, tzero), side="right") - 1
        check.append(f"{moved.size} events change bin (one bin each: {bool(np.all(np.abs(b_snap[moved] - b_ess[moved]) == 1))}); "
                     f"each lies within {dist.max():.2e} (relative) of the edge between the two bins; the "
                     f"long-double reference d puts {np.count_nonzero(b_ref == b_snap[moved])} of them in snapcal's bin, "
                     f"{np.count_nonzero(b_ref == b_ess[moved])} in essdiffraction's")
    d_ref = reference_d(sample, sorted_tof, start, difc, difa, tzero)
    err = {name: float(np.max(np.abs(d[sample] - d_ref) / d_ref)) for name, d in (("snapcal", d_snap), ("ess", d_ess))}
    check.append(f"max relative error vs a long-double reference (first {sample.size} events): snapcal {err['snapcal']:.1e}, "
                 f"essdiffraction {err['ess']:.1e} (its form cancels in sqrt(1 + eps) - 1 when DIFA is small)")
    h_ess_d = histograms_of_d(d_ess, start, *edge_args)
    same = np.array_equal(h_ess_d, ess_counts)
    check.append(f"essdiffraction's d values binned by the snapcal kernel == scipp hist: {same} "
                 f"(so the binning agrees exactly and any difference above is the d formula's rounding)")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"<!-- {os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}, load average {load0:.2f} at start, "
          f"{load1:.2f} after timing; essdiffraction {version('essdiffraction')}, scipp {sc.__version__}, "
          f"numba {numba.__version__}; {'linear' if args.linear else f'log (step {args.log_step:g})'} edges "
          f"{edges[0]:.4f}-{edges[-1]:.4f} A; peak RSS of the whole run {rss:.1f} GB -->")
    print("| events | pixels | bins | side | seconds (median) | M events/s | essdiffraction / snapcal |")
    print("| ---: | ---: | ---: | --- | ---: | ---: | ---: |")

    def row(label, secs, r=""):
        print(f"| {n_events:.0e} | {n_pixels} | {n_bins} | {label} | {secs:.3f} | {n_events / secs / 1e6:.1f} | {r} |")

    row("snapcal: `d_from_tof_scalar` + per-pixel histogram (numba)", t_snap, "1")
    row("essdiffraction: `to_dspacing_with_calibration` + scipp `hist`", t_ess, f"**{ratio:.1f}x**")
    row("&nbsp;&nbsp;of which `to_dspacing_with_calibration`", statistics.median(ess_conv))
    row("&nbsp;&nbsp;of which `hist`", statistics.median(ess_hist))
    row("(not in ratio) snapcal `sort_by_pixel` of the raw event list", t_sort)
    print(f"<!-- runs (s): snapcal {', '.join(f'{s:.3f}' for s in snap_times)}; essdiffraction "
          f"{', '.join(f'{s:.3f}' for s in ess_total)}; sort {', '.join(f'{s:.3f}' for s in sort_times)} -->")
    print()
    for line in check:
        print(f"- {line}")
    print(f"\nsnapcal is {ratio:.1f}x faster (target >= 3x: {'met' if ratio >= 3 else 'NOT met'}); "
          f"histograms identical: {max_diff == 0.0}")


if __name__ == "__main__":
    main()
