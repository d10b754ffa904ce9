"""The short summary shown above the approval form: one line first (run, iteration, gate verdict, groups
passing, a link to the full report), the detail folded under it.

The v2 Prefect UI shows it in the 446 px scrolling box of its Resume modal (1280x800 window), above a form
whose fields take 96 px each: only a one-line summary leaves the four decision fields (Decision, Author,
Applies to, Iteration to save) in view without scrolling. So the summary is a ``<details>`` element (the
UI's markdown keeps sanitised HTML): its ``<summary>`` line is the verdict, and the context, the gate's
reasons, any missing DIFC comparison and a compact per-group table open with one click. The v1 UI shows
the detail unfolded. Everything else (peak fits, masked pixels, DIFC changes, plots) is in the full report
artifact it links to.
"""

from __future__ import annotations

import re
from html import escape

from snapcal_core.recipe.gate import GateVerdict
from snapcal_core.recipe.metrics import DifcChange
from snapcal_core.recipe.result_io import ResultSummary
from snapcal_core.report.markdown import fmt

#: Gate reasons listed in the folded detail; the rest are in the full report.
MAX_REASONS_SHOWN = 3
_KEY_PART = re.compile(r"[^a-z0-9]+")


def artifact_key(kind: str, *, run_number: int, iteration: int, flow_run_id: str) -> str:
    """A Prefect artifact key unique per run, iteration and flow run (lowercase letters, digits, dashes),
    e.g. ``calibration-report-run-58810-iteration-2-1a2b3c4d``."""
    kind = _KEY_PART.sub("-", kind.lower()).strip("-")
    short_id = _KEY_PART.sub("", str(flow_run_id).lower())[:8]
    return f"calibration-{kind}-run-{run_number}-iteration-{iteration}-{short_id}"


def verdict_line(summary: ResultSummary, *, iteration: int, verdict: GateVerdict, report_link: str,
                 report_key: str) -> str:
    """The ``<summary>`` line, e.g. "Run 58810, iteration 2: **gate held**, 2/6 groups pass; full report"
    (HTML: inside an HTML block markdown is not parsed)."""
    passed = {g.group_id for g in verdict.groups if g.passed}
    n_pass = sum(g.group_id in passed for g in summary.groups)
    link = f'<a href="{escape(report_link)}" title="{escape(report_key)}">full report</a>'
    return (f"<summary>Run {summary.run_number}, iteration {iteration}: "
            f"<strong>gate {'pass' if verdict.passed else 'held'}</strong>, "
            f"{n_pass}/{len(summary.groups)} groups pass; {link}</summary>")


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
    """Markdown above the approval form: the one-line verdict (:func:`verdict_line`), then folded under it
    the run's context with the full report's key and link, the gate's reasons, why a DIFC comparison is
    missing, and a compact per-group table (with the mean DIFC change against the applicable calibration
    when there is one)."""
    mode = "Lite" if summary.lite else "native"
    line = verdict_line(summary, iteration=iteration, verdict=verdict, report_link=report_link, report_key=report_key)
    context = (f"{summary.sample}, {summary.grouping}, {mode}; pixel step: {summary.stop_reason}; "
               f"{summary.n_masked} of {summary.n_pixels} pixels masked. Full report (fits, masks, DIFC changes, "
               f"plots): [{report_key}]({report_link})")
    lines = [f"<details>{line}", "", context, ""]
    lines += _verdict_lines(verdict)
    lines += [""] + [f"No DIFC change vs {label}: {why}." for label, why in (not_compared or {}).items()]
    lines += ["", *_group_table(summary, verdict, {c.group_id: c for c in applicable_change or []}), "", "</details>"]
    return "\n".join(lines).strip() + "\n"
