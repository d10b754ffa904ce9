"""Where one pixel iteration's time goes: window histograms, group sums, correlation, row sums.

Usage: ``.venv/bin/python benchmarks/bench_pixel_kernels.py [--native] [--data-root DIR]`` on the
run 1 that ``bench_recipe.py`` simulates (first iteration from the geometric table; the kernels
are timed on their second call, so numba compilation is left out).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from snapcal_core.calibrant.reflections import reflections
from snapcal_core.data.load import load_run
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.recipe import pixel_kernels as k
from snapcal_core.recipe.calibrate import RecipeSettings, geometric_table, groups_and_peaks
from snapcal_core.recipe.pixel import start_loop
from snapcal_core.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--native", action="store_true")
    parser.add_argument("--data-root", default="benchmarks/_work/facility")
    args = parser.parse_args()
    events = load_run(1, lite=not args.native, settings=get_settings(data_root=args.data_root))
    grouping = builtin_grouping("Column", lite=not args.native)
    _, peaks = groups_and_peaks(events=events, grouping=grouping, settings=RecipeSettings(),
                                reflections=reflections("stdlib::C_sg227_Diamond.ncmat"), mask=None)
    table = geometric_table(events, grouping)
    loop = start_loop(pixel=events.pixel, tof_us=events.tof_us, group_of_pixel=grouping.group_of_pixel, peaks=peaks,
                      table=table)
    w, rows, use, difc = loop.windows, loop.row_group, loop.result.use, loop.result.difc
    ok = (rows >= 0) & (use > 0)
    group_difc = np.bincount(rows[ok], weights=difc[ok], minlength=len(w.group_ids)) / np.maximum(
        1, np.bincount(rows[ok], minlength=len(w.group_ids)))
    for call in ("first call (compiles or loads the cache)", "second call"):
        t0 = time.perf_counter()
        hist = k.window_histograms(loop.events.tof_us, loop.events.first, loop.events.last, rows, difc, table.difa, table.tzero,
                                   group_difc, w.d, w.lo, w.nbins, w.offset, w.count, 1.0 / abs(w.log_step), w.row_len)
        t1 = time.perf_counter()
        reference = k.group_sums(hist, rows, use, len(w.group_ids))
        t2 = time.perf_counter()
        k.cross_correlate(hist, reference, rows, use, w.nbins, w.offset, w.count, w.max_lag)
        t3 = time.perf_counter()
        hist.sum(axis=1)
        t4 = time.perf_counter()
        print(f"{'native' if args.native else 'Lite'}, {events.n_events:.2e} events, {call}: histograms {t1 - t0:.2f} s, "
              f"group sums {t2 - t1:.2f} s, correlation {t3 - t2:.2f} s, row sums {t4 - t3:.2f} s "
              f"(row of {w.row_len} bins, max lag {w.max_lag})")


if __name__ == "__main__":
    main()
