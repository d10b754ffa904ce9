"""Markdown report of a calibration for the approval step."""

from __future__ import annotations

from snapcal_core.recipe.gate import QualityGate, failed_fit_fraction
from snapcal_core.recipe.metrics import DifcChange
from snapcal_core.recipe.result_io import ResultSummary


def _f(v: float, fmt: str) -> str:
    return "-" if v is None or v != v else format(v, fmt)


def report_markdown(summary: ResultSummary, *, iteration: int, comparisons: dict[str, list[DifcChange]]) -> str:
    """Per-group table (peaks, sigma/d, strain, relative strain, DIFC) and DIFC changes against others."""
    lines = [f"### Run {summary.run_number}, {summary.sample}, {summary.grouping} "
             f"({'Lite' if summary.lite else 'native'}), iteration {iteration}",
             f"Pixel step: {summary.stop_reason}; {len(summary.iterations)} iteration(s); "
             f"{summary.n_masked} of {summary.n_pixels} pixels masked"
             f"{'; group step focused with held-out constants (sparse pixels)' if summary.held_out_focus else ''}.", "",
             "| group | 2theta | peaks | DIFC | TZERO | sigma/d | strain | rel. strain (ppm) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for g in summary.groups:
        m = g.metrics
        lines.append(f"| {g.group_id} | {g.two_theta_deg:.1f} | {m.n_peaks_fitted}/{m.n_peaks_attempted} | "
                     f"{_f(g.difc_fit.difc, '.2f')} +- {_f(g.difc_fit.difc_error, '.2f')} | {_f(g.tzero_us, '.2f')} | "
                     f"{_f(m.sigma_mean, '.5f')} | {_f(m.strain_mean, '.2f')} | {_f(m.relative_strain_ppm_mean, '.1f')} |")
    failed, limit = failed_fit_fraction(summary), QualityGate().max_failed_fit_fraction
    if limit is not None and failed > limit:
        lines += ["", f"**Warning (SNAPRed's rule): the pixel loop masked {failed:.1%} of the {summary.n_pixels} "
                  f"pixels (> {limit:.0%}) because their fits failed.** The quality gate holds such a run for a person."]
    if any(m.n_masked for m in summary.masked):
        reasons = sorted({r for m in summary.masked for r in m.by_reason})
        lines += ["", "Masked pixels per group (reason: dead, hot, noisy found from the data before the pixel loop; "
                  "failed_fit by the loop; user: the input mask):", "",
                  "| group | pixels | masked | fraction | " + " | ".join(reasons) + " |",
                  "| ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in reasons) + " |"]
        lines += [f"| {m.group_id} | {m.n_pixels} | {m.n_masked} | {m.fraction:.1%} | "
                  + " | ".join(str(m.by_reason.get(r, 0)) for r in reasons) + " |" for m in summary.masked]
    for label, changes in comparisons.items():
        lines += ["", f"DIFC change vs {label} (ppm, per pixel):", "",
                  "| group | mean | std | max abs | pixels |", "| ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {c.group_id} | {_f(c.mean_ppm, '.1f')} | {_f(c.std_ppm, '.1f')} | {_f(c.max_abs_ppm, '.1f')} | "
                  f"{c.n_compared} |" for c in changes]
    return "\n".join(lines)
