"""``snapcal recipe RUN``: run the calibration recipe without Prefect and write a result folder.

Every input is checked first (:mod:`snapcal_core.preflight`); then the steps of
:func:`snapcal_core.pipeline.run_recipe`, each announced on stderr (loading, the numba kernels'
first call, every pixel iteration, the group fits).
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.display import Progress, console, print_json, print_table
from snapcal_core.models import EventData
from snapcal_core.pipeline import run_recipe
from snapcal_core.preflight import RunRef, check_calibration
from snapcal_core.recipe.calibrate import RecipeSettings
from snapcal_core.recipe.difc_fit import FitMode
from snapcal_core.recipe.peakfit import PeakFitSettings
from snapcal_core.recipe.pixel import PixelIteration
from snapcal_core.recipe.result_io import ResultSummary
from snapcal_core.settings import get_settings


def show_summary(summary: ResultSummary) -> None:
    """Per-iteration statistics and the per-group table of a recipe result."""
    for it in summary.iterations:
        console.print(f"pixel iteration {it.iteration}: median |offset| {it.median_abs_offset_bins:.3f} bins, "
                      f"mean {it.mean_abs_offset_bins:.3f}, masked {it.n_masked}/{it.n_pixels}")
    console.print(f"pixel step: {summary.stop_reason}; masked {summary.n_masked} of {summary.n_pixels} pixels")
    reasons: dict[str, int] = {}
    for m in summary.masked:
        for r, n in m.by_reason.items():
            reasons[r] = reasons.get(r, 0) + n
    if reasons:
        console.print("masked by reason: " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())))
    rows = [[g.group_id, g.two_theta_deg, f"{g.metrics.n_peaks_fitted}/{g.metrics.n_peaks_attempted}", g.difc_fit.difc,
             g.difc_fit.difc_error, g.tzero_us, g.metrics.sigma_mean, g.metrics.strain_mean,
             g.metrics.relative_strain_ppm_mean] for g in summary.groups]
    print_table(f"run {summary.run_number} {summary.sample} {summary.grouping} ({'Lite' if summary.lite else 'native'})",
                ["group", "2theta", "peaks", "DIFC", "+-", "TZERO", "sigma/d", "strain", "rel. strain ppm"], rows)


def _run(ref: RunRef, *, sample: str, grouping: str, lite: bool, settings: RecipeSettings, output: Path | None,
         progress: Progress) -> ResultSummary:
    """:func:`~snapcal_core.pipeline.run_recipe`, each step announced on ``progress``."""
    def loaded(events: EventData) -> None:
        progress.done(f"loaded {events.n_events:,} events in the TOF band")
        progress.step("group fits" if settings.skip_pixel
                      else "pixel iteration 1 (its first call compiles the numba kernels)")

    def on_iteration(it: PixelIteration) -> None:
        progress.done(f"pixel iteration {it.iteration}: median |offset| {it.median_abs_offset_bins:.3f} bins")
        progress.step(f"pixel iteration {it.iteration + 1} (or the group fits once converged)")

    progress.step(f"loading run {ref.run_number} ({'Lite' if lite else 'native'}; the first load compiles the numba kernels)")
    summary = run_recipe(ref.run_number, sample=sample, grouping=grouping, lite=lite, recipe=settings, output=output,
                         settings=get_settings(), on_loaded=loaded, on_iteration=on_iteration, ref=ref)
    progress.done("group fits and metrics")
    return summary


def recipe(
    run: int = typer.Argument(..., min=1, help="Run number"),
    sample: str = typer.Option(..., "--sample", help="Calibrant sample (name, JSON file or NCrystal material)"),
    grouping: str = typer.Option("Column", "--grouping", help="Column|Bank|All|FILE"),
    native: bool = typer.Option(False, "--native", help="Native pixels instead of Lite"),
    skip_pixel: bool = typer.Option(False, "--skip-pixel", help="Skip the cross-correlation loop"),
    fit: FitMode = typer.Option(FitMode.DIFC, "--fit", help="Constants fitted per group"),
    free_tails: bool = typer.Option(False, "--free-tails", help="Fit each peak's B2B decay rate instead of holding "
                                    "it at the instrument's law (for tails that do not follow it)"),
    mask: Path = typer.Option(None, "--mask", help="Pixel mask file (SaveDiffCal table, MaskWorkspace NeXus or "
                              "SaveMask XML) masked from the start"),
    output: Path = typer.Option(None, "--output", help="Result folder (default: in the scratch area)"),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON"),
) -> None:
    """Pixel calibration + group calibration + metrics; writes table, focused spectra and summary."""
    mask_file = str(mask.expanduser().resolve()) if mask else ""
    ref = check_calibration(run_number=run, sample=sample, grouping=grouping, lite=not native, mask_file=mask_file)
    settings = RecipeSettings(fit_mode=fit, skip_pixel=skip_pixel, mask_file=mask_file,
                              peak_fit=PeakFitSettings(fit_beta=free_tails))
    with Progress(quiet=json_out) as progress:
        summary = _run(ref, sample=sample, grouping=grouping, lite=not native, settings=settings, output=output,
                       progress=progress)
    if json_out:
        print_json(summary)
        return
    show_summary(summary)
    console.print(f"result written to {summary.folder}")
