"""Accuracy of the recipe against the simulator's truth; prints the figures of docs/accuracy.md.

Usage: ``.venv/bin/python benchmarks/accuracy.py [--events 2e7] [--native] [--seed 11] [--free-tails] [--no-align]``
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from snapcal_core.calibrant.reflections import reflections
from snapcal_core.data.load import load_run
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.recipe.calibrate import RecipeSettings, calibrate
from snapcal_core.recipe.peakfit import PeakFitSettings
from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run
from snapcal_core.simulate.truth import read_truth


def pixel_errors(table, truth, grouping):
    err = np.full(truth.n_rows, np.nan)
    for g in grouping.group_ids:
        sel = (grouping.group_of_pixel == g) & (table.use > 0)
        if not sel.any():
            continue
        r = table.difc[sel] / truth.difc[sel]
        err[sel] = r / r.mean() - 1
    return err


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=float, default=2e7)
    parser.add_argument("--native", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--free-tails", action="store_true", help="Fit each peak's B2B decay rate (fit_beta=True)")
    parser.add_argument("--no-align", action="store_true", help="No group alignment before the group fit")
    parser.add_argument("--pixel-scatter", type=float, default=1e-3, help="Per-native-pixel DIFC scatter of the truth")
    args = parser.parse_args()
    lite = not args.native
    settings = get_settings(data_root=tempfile.mkdtemp(prefix="snapcal-accuracy-"))
    sim = simulate_run(run_number=1, ipts=1, sample="diamond", n_events=int(args.events), seed=args.seed,
                       pixel_scatter_std=args.pixel_scatter, settings=settings)
    events = load_run(1, lite=lite, settings=settings)
    truth = read_truth(sim.raw_path, lite=lite)
    grouping = builtin_grouping("Column", lite=lite)
    geometric = snap_geometry(arc_deg=sim.state.arc_deg, lin_m=sim.state.lin_m, lite=lite).difc_us_per_angstrom
    diamond = reflections("stdlib::C_sg227_Diamond.ncmat")
    t0 = time.perf_counter()
    recipe = RecipeSettings(peak_fit=PeakFitSettings(fit_beta=args.free_tails), align_groups=not args.no_align)
    result = calibrate(events=events, grouping=grouping, reflections=diamond, settings=recipe)
    elapsed = time.perf_counter() - t0
    skipped = calibrate(events=events, grouping=grouping, reflections=diamond, settings=RecipeSettings(skip_pixel=True))
    print(f"{args.events:.0e} events, {'Lite' if lite else 'native'}, Column, seed {args.seed}, "
          f"tails {'free' if args.free_tails else 'held'}, {'not ' if args.no_align else ''}aligned; calibrate() {elapsed:.1f} s; "
          f"iterations {len(result.iterations)} ({result.pixel.stop_reason})")
    print("| group | DIFC error vs truth (ppm) (reported sigma) | pixel RMS error (ppm) | counting bound RMS (ppm) | ratio | pull std |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    err = pixel_errors(result.table, truth, grouping)
    pull = err / result.pixel.difc_uncertainty
    for g in grouping.group_ids:
        sel = (grouping.group_of_pixel == g) & (result.table.use > 0)
        ours, true = np.mean(result.table.difc[sel] / geometric[sel]), np.mean(truth.difc[sel] / geometric[sel])
        bound = result.pixel.statistical_bound[sel]
        b = np.sqrt(np.nanmean(bound[np.isfinite(bound)] ** 2))
        e = np.nanstd(err[sel])
        fit = next(gc.difc_fit for gc in result.group_fits if gc.group_id == g)
        print(f"| {g} | {(ours / true - 1) * 1e6:.1f} ({fit.difc_error / fit.difc * 1e6:.1f}) | {e * 1e6:.0f} | {b * 1e6:.0f} | {e / b:.2f} | "
              f"{np.nanstd(pull[sel]):.2f} |")
    masked = [gc.group_id for gc in skipped.group_fits if gc.difc_fit.outcome.value != "accepted"]
    print(f"per-pixel RMS error with pixel step {np.nanstd(err) * 1e6:.0f} ppm, without "
          f"{np.nanstd(pixel_errors(skipped.table, truth, grouping)) * 1e6:.0f} ppm"
          f"{f' (without: groups {masked} failed their fits and are left out)' if masked else ''}")


if __name__ == "__main__":
    main()
