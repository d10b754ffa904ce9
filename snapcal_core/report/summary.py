"""The short summary shown above the approval form: verdict first, one compact table, a link to the rest.

The Prefect UI shows it in a 512 px modal above the form; everything else (the per-group fit table,
masked pixels, DIFC changes, plots) is in the full report artifact it links to.
"""

from __future__ import annotations

import re

from snapcal_core.recipe.gate import GateVerdict
from snapcal_core.recipe.metrics import DifcChange
from snapcal_core.recipe.result_io import ResultSummary
from snapcal_core.report.markdown import fmt

#: Gate reasons listed above the form; the rest are in the full report.
MAX_REASONS_SHOWN = 3
_KEY_PART = re.compile(r"[^a-z0-9]+")


def artifact_key(kind: str, *, run_number: int, iteration: int, flow_run_id: str) -> str:
    """A Prefect artifact key unique per run, iteration and flow run (lowercase letters, digits, dashes),
    e.g. ``calibration-report-run-58810-iteration-2-1a2b3c4d``."""
    kind = _KEY_PART.sub("-", kind.lower()).strip("-")
    short_id = _KEY_PART.sub("", str(flow_run_id).lower())[:8]
    return f"calibration-{kind}-run-{run_number}-iteration-{iteration}-{short_id}"


def _verdict_lines(verdict: GateVerdict) -> list[str]:
    if verdict.passed:
        return ["**Quality gate: pass** (every group meets the thresholds)."]
    reasons = verdict.explain().splitlines()
    more = len(reasons) - MAX_REASONS_SHOWN
    lines = ["**Quality gate: held** for a person:", ""] + [f"- {r}" for r in reasons[:MAX_REASONS_SHOWN]]
    return lines + ([f"- and {more} more (full report)"] if more > 0 else [])


def _group_table(summary: ResultSummary, verdict: GateVerdict, change: dict[int, DifcChange]) -> list[str]:
    """Five or six narrow columns: fits in the approval modal (both Prefect UIs) without a scrollbar."""
    passed = {g.group_id: g.passed for g in verdict.groups}
    head = "| group | peaks | σ/d | strain ppm |" + (" ΔDIFC ppm |" if change else "") + " gate |"
    lines = [head, "| ---: | ---: | ---: | ---: |" + (" ---: |" if change else "") + " :--- |"]
    for g in summary.groups:
        m = g.metrics
        delta = f" {fmt(change[g.group_id].mean_ppm, '.0f')} |" if g.group_id in change else (" - |" if change else "")
        lines.append(f"| {g.group_id} | {m.n_peaks_fitted}/{m.n_peaks_attempted} | "
                     f"{fmt(m.sigma_mean, '.4f')} | {fmt(m.relative_strain_ppm_mean, '.0f')} |{delta} "
                     f"{'pass' if passed.get(g.group_id, False) else 'held'} |")
    return lines


def short_summary(summary: ResultSummary, *, iteration: int, verdict: GateVerdict, report_link: str,
                  report_key: str, applicable_change: list[DifcChange] | None = None,
                  not_compared: dict[str, str] | None = None) -> str:
    """Markdown above the approval form: run, iteration, a link to the full report artifact, the gate
    verdict and why, why a DIFC comparison is missing, and a compact per-group table (with the mean DIFC
    change against the applicable calibration when there is one)."""
    mode = "Lite" if summary.lite else "native"
    lines = [f"### Run {summary.run_number}, iteration {iteration}",
             f"{summary.sample}, {summary.grouping}, {mode}; pixel step: {summary.stop_reason}; "
             f"{summary.n_masked} of {summary.n_pixels} pixels masked. Full report (fits, masks, DIFC changes, "
             f"plots): [{report_key}]({report_link})", ""]
    lines += _verdict_lines(verdict)
    lines += [""] + [f"No DIFC change vs {label}: {why}." for label, why in (not_compared or {}).items()]
    lines += ["", *_group_table(summary, verdict, {c.group_id: c for c in applicable_change or []})]
    return "\n".join(lines).strip() + "\n"
