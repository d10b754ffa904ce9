"""``snapcal assess FOCUSED.nxs --sample SAMPLE``: quality metrics of any focused d-spacing data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.cli._common import print_json, print_table
from snapcal_core.recipe.assess import ASSESS_FIT, ASSESS_PEAKS, assess_focused

METRIC_COLUMNS = ["sigma_mean", "sigma_std", "strain_mean", "strain_std", "relative_strain_ppm_mean",
                  "relative_strain_ppm_std", "two_theta_deg", "n_peaks_fitted", "n_peaks_attempted", "chi2_mean"]


def assess(
    focused: Path = typer.Argument(..., help="Mantid NXprocessed file of focused d-spacing spectra"),
    sample: str = typer.Option(..., "--sample", help="Calibrant sample name, JSON file or NCrystal material"),
    profile: str = typer.Option(ASSESS_FIT.profile, "--profile", help="gaussian|b2b"),
    fwhm_left: float = typer.Option(ASSESS_PEAKS.fwhm_multiplier_left, "--fwhm-left", help="Window below d, in FWHM"),
    fwhm_right: float = typer.Option(ASSESS_PEAKS.fwhm_multiplier_right, "--fwhm-right", help="Window above d, in FWHM"),
    json_out: bool = typer.Option(False, "--json", help="JSON: one object per group"),
) -> None:
    """Fit the calibrant's peaks in every focused group and report sigma/d, strain and more."""
    peaks = ASSESS_PEAKS.model_copy(update={"fwhm_multiplier_left": fwhm_left, "fwhm_multiplier_right": fwhm_right})
    fit = ASSESS_FIT.model_copy(update={"profile": profile})
    result = assess_focused(focused, reflections=calibrant_reflections(load_sample(sample)), peak_settings=peaks,
                            fit_settings=fit)
    if json_out:
        print_json([{**g.metrics.model_dump(mode="json"),
                     "peaks": [{"d_ref_angstrom": p.d_ref_angstrom, "d_fit_angstrom": p.centre,
                                "d_fit_error_angstrom": p.centre_error, "sigma_angstrom": p.sigma,
                                "outcome": p.outcome.value} for p in g.peaks]} for g in result])
        return
    rows = [[g.group_id] + [getattr(g.metrics, c) for c in METRIC_COLUMNS] for g in result]
    print_table(f"{focused.name} against {sample}", ["group"] + METRIC_COLUMNS, rows)


def register(app: typer.Typer) -> None:
    app.command("assess")(assess)
