"""Speed of the recipe on a simulated run: one pixel iteration and the whole calibration.

Usage: ``.venv/bin/python benchmarks/bench_recipe.py --events 1e8 [--native] [--data-root DIR]``
Simulates the run first unless ``--data-root`` already holds run 1 (IPTS 1). Events are loaded
before timing ("data already loaded"); numba kernels are compiled (cached) by a warm-up.
"""

from __future__ import annotations

import argparse
import resource
import time

from snapcal_core.calibrant.peaks import predicted_peaks_for_groups
from snapcal_core.calibrant.reflections import reflections
from snapcal_core.data.load import load_run
from snapcal_core.errors import IptsNotFoundError
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.instrument.parameters import group_parameters
from snapcal_core.recipe.calibrate import geometric_table
from snapcal_core.recipe.pixel import run_iteration, start_loop
from snapcal_core.recipe.sequence import calibrate
from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=float, default=1e8)
    parser.add_argument("--native", action="store_true")
    parser.add_argument("--data-root", default="benchmarks/_work/facility")
    args = parser.parse_args()
    settings = get_settings(data_root=args.data_root)
    try:
        events = load_run(1, lite=not args.native, settings=settings)
    except IptsNotFoundError:
        simulate_run(run_number=1, ipts=1, n_events=int(args.events), seed=5, settings=settings)
        events = load_run(1, lite=not args.native, settings=settings)
    grouping = builtin_grouping("Column", lite=not args.native)
    st = events.metadata.state
    groups = group_parameters(geometry=snap_geometry(arc_deg=st.arc_deg, lin_m=st.lin_m, lite=not args.native),
                              grouping=grouping, wavelength_angstrom=st.wavelength_angstrom)
    diamond = reflections("stdlib::C_sg227_Diamond.ncmat")
    peaks = predicted_peaks_for_groups(reflections=diamond, groups=groups)
    table = geometric_table(events, grouping)
    t0 = time.perf_counter()
    loop = start_loop(pixel=events.pixel, tof_us=events.tof_us, group_of_pixel=grouping.group_of_pixel, peaks=peaks,
                      table=table)
    t1 = time.perf_counter()
    run_iteration(loop, 1)
    t2 = time.perf_counter()
    run_iteration(loop, 2)
    t3 = time.perf_counter()
    del loop
    t4 = time.perf_counter()
    result = calibrate(events=events, grouping=grouping, reflections=diamond)
    t5 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    mode = "native" if args.native else "Lite"
    print(f"| {mode} | {events.n_events:.2e} | {t1 - t0:.2f} | {t2 - t1:.2f} | {t3 - t2:.2f} | "
          f"{t5 - t4:.1f} ({len(result.iterations)} iterations) | {rss:.2f} |")


if __name__ == "__main__":
    main()
