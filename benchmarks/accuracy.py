"""Accuracy of the recipe against the simulator's truth; prints the figures of docs/accuracy.md.

Usage: ``.venv/bin/python benchmarks/accuracy.py [--events 2e7] [--native] [--seed 11] [--free-tails] [--no-align]
[--rough]``

``--rough`` simulates the faulty-pixel preset (``Nuisances.rough()``: dead pixels and a tube, hot and
bursting pixels, noisy edges, 20 % efficiency spread, prompt pulse) and also prints how many of the
injected bad native pixels were masked and how many good ones.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from snapcal_core.calibrant.reflections import reflections
from snapcal_core.data.load import load_run
from snapcal_core.data.screen import reason_counts
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.recipe.calibrate import RecipeSettings
from snapcal_core.recipe.peakfit import PeakFitSettings
from snapcal_core.recipe.sequence import calibrate
from snapcal_core.settings import get_settings
from snapcal_core.simulate.nuisances import Nuisances
from snapcal_core.simulate.run import simulate_run
from snapcal_core.simulate.truth import read_truth, truth_nuisance


def pixel_errors(table, truth, grouping):
    err = np.full(truth.n_rows, np.nan)
    for g in grouping.group_ids:
        sel = (grouping.group_of_pixel == g) & (table.use > 0)
        if not sel.any():
            continue
        r = table.difc[sel] / truth.difc[sel]
        err[sel] = r / r.mean() - 1
    return err


def effective_lite_truth(raw_path, events):
    """A superpixel's true DIFC as later runs will see it: its natives' DIFC weighted by their
    simulated efficiency, the natives screened at load left out. (With 20 % efficiency spread and
    masked natives the plain mean of the 64 is not what the superpixel's peaks measure; weighting by
    the events of this very file instead would make the truth share this run's counting noise, which
    hid ~4 % of the error and made the pulls look too small.)"""
    from dataclasses import replace

    from snapcal_core.instrument.lite import lite_map

    native = read_truth(raw_path, lite=False)
    weight = truth_nuisance(raw_path).efficiency.astype(np.float64)
    if events.native_mask_reason is not None:
        weight[events.native_mask_reason > 0] = 0.0
    mapping = lite_map()
    plain = read_truth(raw_path, lite=True)
    total = np.bincount(mapping, weights=weight, minlength=plain.n_rows)
    difc = np.bincount(mapping, weights=weight * native.difc, minlength=plain.n_rows) / np.maximum(total, 1e-300)
    return replace(plain, difc=np.where(total > 0, difc, plain.difc))


def print_masking(raw_path, events, result, *, lite: bool) -> None:
    """Injected bad native pixels masked (at load, plus the recipe's in native mode), good ones masked."""
    bad = truth_nuisance(raw_path).flags > 0
    masked = np.zeros(bad.size, bool)
    if events.native_mask_reason is not None:
        masked |= events.native_mask_reason > 0
    if not lite and result.pixel.mask_reason is not None:
        masked |= result.pixel.mask_reason > 0
    print(f"native pixels: {bad.sum()} injected bad, {(masked & bad).sum() / max(1, bad.sum()):.2%} of them masked; "
          f"{(masked & ~bad).sum()} good masked ({(masked & ~bad).sum() / (~bad).sum():.3%}); screened at load "
          f"{events.metadata.screened_native_pixels}, prompt-pulse events removed {events.metadata.n_prompt_pulse_events}")
    reasons = reason_counts(result.pixel.mask_reason) if result.pixel.mask_reason is not None else {}
    print(f"recipe pixels masked by reason ({'Lite' if lite else 'native'}): {reasons}")


def print_decile_pulls(pull, counts, used, grouping) -> None:
    """Pull std per decile of the pixels' counts in the reference windows, per group (the
    split-half factor is one per group: does the excess follow the counts?)."""
    print("pull std per decile of counts in the reference windows (fewest first):")
    for g in grouping.group_ids:
        sel = (grouping.group_of_pixel == g) & used & np.isfinite(pull)
        edges = np.quantile(counts[sel], np.linspace(0, 1, 11))
        decile = np.clip(np.searchsorted(edges, counts[sel], side="right") - 1, 0, 9)
        stds = [np.std(pull[sel][decile == q]) if (decile == q).sum() > 10 else np.nan for q in range(10)]
        print(f"  group {g} (counts {edges[0]:.0f}-{edges[-1]:.0f}): " + " ".join(f"{v:.2f}" for v in stds))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=float, default=2e7)
    parser.add_argument("--native", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--free-tails", action="store_true", help="Fit each peak's B2B decay rate (fit_beta=True)")
    parser.add_argument("--no-align", action="store_true", help="No group alignment before the group fit")
    parser.add_argument("--pixel-scatter", type=float, default=1e-3, help="Per-native-pixel DIFC scatter of the truth")
    parser.add_argument("--rough", action="store_true", help="Simulate dead, hot and noisy pixels and a prompt pulse")
    args = parser.parse_args()
    lite = not args.native
    settings = get_settings(data_root=tempfile.mkdtemp(prefix="snapcal-accuracy-"))
    sim = simulate_run(run_number=1, ipts=1, sample="diamond", n_events=int(args.events), seed=args.seed,
                       pixel_scatter_std=args.pixel_scatter, settings=settings,
                       nuisances=Nuisances.rough() if args.rough else None)
    events = load_run(1, lite=lite, settings=settings)
    truth = read_truth(sim.raw_path, lite=lite)
    if args.rough and lite:
        truth = effective_lite_truth(sim.raw_path, events)
    grouping = builtin_grouping("Column", lite=lite)
    geometric = snap_geometry(arc_deg=sim.state.arc_deg, lin_m=sim.state.lin_m, lite=lite).difc_us_per_angstrom
    diamond = reflections("stdlib::C_sg227_Diamond.ncmat")
    t0 = time.perf_counter()
    recipe = RecipeSettings(peak_fit=PeakFitSettings(fit_beta=args.free_tails), align_groups=not args.no_align)
    result = calibrate(events=events, grouping=grouping, reflections=diamond, settings=recipe)
    elapsed = time.perf_counter() - t0
    skipped = calibrate(events=events, grouping=grouping, reflections=diamond, settings=RecipeSettings(skip_pixel=True))
    print(f"{args.events:.0e} events, {'Lite' if lite else 'native'}, Column, seed {args.seed}, "
          f"tails {'free' if args.free_tails else 'held'}, {'not ' if args.no_align else ''}aligned; "
          f"calibrate() {elapsed:.1f} s; "
          f"iterations {len(result.iterations)} ({result.pixel.stop_reason})")
    print("| group | DIFC error vs truth (ppm) (reported sigma) | pixel RMS error (ppm) | counting bound RMS (ppm) | ratio "
          "| pull std |")
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
        print(f"| {g} | {(ours / true - 1) * 1e6:.1f} ({fit.difc_error / fit.difc * 1e6:.1f}) | {e * 1e6:.0f} "
              f"| {b * 1e6:.0f} | {e / b:.2f} | "
              f"{np.nanstd(pull[sel]):.2f} |")
    print_decile_pulls(pull, result.pixel.counts_in_windows, (result.table.use > 0), grouping)
    print("split-half factor on the bound per group (recipe/pixel_scale.py): "
          + ", ".join(f"{g}: {c:.3f}" for g, c in sorted(result.pixel.error_scale.items())))
    if args.rough:
        print_masking(sim.raw_path, events, result, lite=lite)
    masked = [gc.group_id for gc in skipped.group_fits if gc.difc_fit.outcome.value != "accepted"]
    print(f"per-pixel RMS error with pixel step {np.nanstd(err) * 1e6:.0f} ppm, without "
          f"{np.nanstd(pixel_errors(skipped.table, truth, grouping)) * 1e6:.0f} ppm"
          f"{f' (without: groups {masked} failed their fits and are left out)' if masked else ''}")


if __name__ == "__main__":
    main()
