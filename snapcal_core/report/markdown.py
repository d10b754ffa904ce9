"""Markdown report of a calibration for the approval step."""

from __future__ import annotations

from snapcal_core.recipe.gate import QualityGate, failed_fit_fraction
from snapcal_core.recipe.metrics import DifcChange
from snapcal_core.recipe.result_io import ResultSummary


def fmt(v: float | None, spec: str) -> str:
    """``v`` formatted with ``spec``; "-" for None or NaN."""
    return "-" if v is None or v != v else format(v, spec)


def report_markdown(summary: ResultSummary, *, iteration: int, comparisons: dict[str, list[DifcChange]],
                    not_compared: dict[str, str] | None = None) -> str:
    """Per-group table (peaks, sigma/d, strain, relative strain, DIFC), DIFC changes against others, and
    a section for each calibration that could not be compared, saying why (never silently left out)."""
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
                     f"{fmt(g.difc_fit.difc, '.2f')} +- {fmt(g.difc_fit.difc_error, '.2f')} | {fmt(g.tzero_us, '.2f')} | "
                     f"{fmt(m.sigma_mean, '.5f')} | {fmt(m.strain_mean, '.2f')} | {fmt(m.relative_strain_ppm_mean, '.1f')} |")
    failed, limit = failed_fit_fraction(summary), QualityGate().max_failed_fit_fraction
    if limit is not None and failed > limit:
        lines += ["", f"**Warning (SNAPRed's rule): the pixel loop masked {failed:.1%} of the {summary.n_pixels} "
                  f"pixels (> {limit:.0%}) because their fits failed.** The quality gate holds such a run for a person."]
    if any(m.n_masked for m in summary.masked):
        reasons = sorted({r for m in summary.masked for r in m.by_reason})
        lines += ["", "Masked pixels per group (reason: dead, hot, noisy found from the data before the pixel loop; "
                  "failed_fit and low_counts (too few events for an offset) by the loop; user: the input mask):", "",
                  "| group | pixels | masked | fraction | " + " | ".join(reasons) + " |",
                  "| ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in reasons) + " |"]
        lines += [f"| {m.group_id} | {m.n_pixels} | {m.n_masked} | {m.fraction:.1%} | "
                  + " | ".join(str(m.by_reason.get(r, 0)) for r in reasons) + " |" for m in summary.masked]
    for label, changes in comparisons.items():
        lines += ["", f"DIFC change vs {label} (ppm, per pixel):", "",
                  "| group | mean | std | max abs | pixels |", "| ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {c.group_id} | {fmt(c.mean_ppm, '.1f')} | {fmt(c.std_ppm, '.1f')} | {fmt(c.max_abs_ppm, '.1f')} | "
                  f"{c.n_compared} |" for c in changes]
    for label, why in (not_compared or {}).items():
        lines += ["", f"DIFC change vs {label}: **not shown**, {why}."]
    return "\n".join(lines)
