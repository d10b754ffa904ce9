"""The summary above the approval form: one line with the verdict and the link to the full report, the
detail folded under it (a table narrow enough for the modal, why a DIFC comparison is missing); pure
functions, no Prefect. The browser test measures the line and the table in the real modal."""

from __future__ import annotations

import html
import re

import numpy as np

from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe.difc_fit import DifcFit, DifcOutcome, FitMode
from snapcal_core.recipe.gate import QualityGate, evaluate_gate
from snapcal_core.recipe.metrics import DifcChange, GroupMetrics
from snapcal_core.recipe.result_io import GroupSummary, ResultSummary
from snapcal_core.report.build import foreign_reason
from snapcal_core.report.markdown import report_markdown
from snapcal_core.report.summary import MAX_REASONS_SHOWN, artifact_key, short_summary, verdict_line

KEY = "calibration-report-run-58810-iteration-2-1a2b3c4d"
#: Characters of the one-line verdict that stay on one line in the v2 modal (423 px at 14 px: 63 measured
#: in headless Chromium; 69 wrapped). One line more pushes "Iteration to save" 6 px out of view.
LINE_CHARS = 63
LINK = "../../artifacts/artifact/0b1e5a2c-0000-4000-8000-000000000000"


def _group(group_id: int, *, sigma: float = 0.005, peaks: int = 7) -> GroupSummary:
    metrics = GroupMetrics(group_id=group_id, sigma_mean=sigma, sigma_std=0.001, strain_mean=0.1, strain_std=0.5,
                           relative_strain_ppm_mean=-12.4, relative_strain_ppm_std=40.0, two_theta_deg=30.0 + 20 * group_id,
                           n_peaks_fitted=peaks, n_peaks_attempted=7, chi2_mean=1.1)
    fit = DifcFit(mode=FitMode.DIFC, outcome=DifcOutcome.ACCEPTED, difc=5000.0 + group_id, difc_error=0.1)
    return GroupSummary.model_construct(group_id=group_id, two_theta_deg=30.0 + 20 * group_id, metrics=metrics,
                                        difc_fit=fit, tzero_us=0.0)


def _summary(groups: list[GroupSummary]) -> ResultSummary:
    return ResultSummary.model_construct(run_number=58810, sample="diamond", grouping="Column", lite=True,
                                         stop_reason="converged", n_pixels=18432, n_masked=412, groups=groups, masked=[],
                                         iterations=[], held_out_focus=False)


def _text(summary: ResultSummary, **kw) -> str:
    verdict = evaluate_gate(summary, QualityGate(), difc_change=kw.get("applicable_change"))
    return short_summary(summary, iteration=2, verdict=verdict, report_link=LINK,
                         report_key=KEY, **kw)


def _table_rows(markdown: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines() if line.startswith("|")]


def _visible(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_a_passing_run_states_run_iteration_verdict_and_links_the_full_report_in_one_line():
    text = _text(_summary([_group(g) for g in range(1, 7)]))
    first = text.splitlines()[0]
    assert first == (f'<details><summary>Run 58810, iteration 2: <strong>gate pass</strong>, 6/6 groups pass; '
                     f'<a href="{LINK}" title="{KEY}">full report</a></summary>')
    assert len(_visible(first)) <= LINE_CHARS
    assert "**Quality gate: pass**" in text and f"[{KEY}]({LINK})" in text  # folded under the line
    assert "diamond, Column, Lite" in text and "412 of 18432 pixels masked" in text


def test_the_detail_is_folded_under_the_line_as_markdown():
    text = _text(_summary([_group(g) for g in range(1, 7)]))
    lines = text.splitlines()
    # an HTML block ends at a blank line: the detail between the blank lines is parsed as markdown
    assert lines[0].startswith("<details><summary>") and lines[1] == ""
    assert lines[-2:] == ["", "</details>"] and text.count("<details>") == 1
    assert "###" not in text and "![" not in text


def test_a_held_line_counts_the_passing_groups_and_stays_one_line():
    groups = [_group(g, sigma=0.02 if g > 2 else 0.005) for g in range(1, 10)]
    summary = _summary(groups)
    verdict = evaluate_gate(summary, QualityGate())
    line = verdict_line(summary, iteration=9, verdict=verdict, report_link=LINK, report_key=KEY)
    assert _visible(line) == "Run 58810, iteration 9: gate held, 2/9 groups pass; full report"
    assert len(_visible(line)) <= LINE_CHARS


def test_the_line_escapes_the_link():
    summary = _summary([_group(1)])
    line = verdict_line(summary, iteration=1, verdict=evaluate_gate(summary, QualityGate()),
                        report_link='../x?a=1&b="2"', report_key=KEY)
    assert 'href="../x?a=1&amp;b=&quot;2&quot;"' in line


def test_a_held_run_says_why_and_marks_the_failing_groups():
    groups = [_group(g, sigma=0.02 if g > 2 else 0.005, peaks=2 if g > 2 else 7) for g in range(1, 7)]
    text = _text(_summary(groups))
    reasons = [line for line in text.splitlines() if line.startswith("- group")]
    assert "**Quality gate: held**" in text
    assert len(reasons) == MAX_REASONS_SHOWN and "sigma/d 0.02 > 0.012" in reasons[0]
    assert "- and 1 more (full report)" in text
    gate_column = [row[-1] for row in _table_rows(text)[2:]]
    assert gate_column == ["pass", "pass", "held", "held", "held", "held"]


def test_the_group_table_is_narrow_enough_for_the_approval_modal():
    change = [DifcChange(group_id=g, mean_ppm=-1234.5, std_ppm=1.0, max_abs_ppm=2.0, n_compared=100, n_masked_either=0)
              for g in range(1, 7)]
    rows = _table_rows(_text(_summary([_group(g) for g in range(1, 7)]), applicable_change=change))
    assert len(rows) == 2 + 6 and all(len(row) == 6 for row in rows)
    assert rows[0][4] == "ΔDIFC ppm" and rows[2][4] == "-1234"
    assert max(len(" ".join(row)) for row in rows) <= 45  # the browser test measures it: it fits the 512 px modal


def test_a_missing_difc_comparison_is_said_not_left_out():
    why = {"applicable calibration v_0003": "its table has 300 pixels and this calibration 18432"}
    text = _text(_summary([_group(1)]), not_compared=why)
    assert "No DIFC change vs applicable calibration v_0003: its table has 300 pixels" in text
    full = report_markdown(_summary([_group(1)]), iteration=1, comparisons={}, not_compared=why)
    assert "DIFC change vs applicable calibration v_0003: **not shown**, its table has 300 pixels" in full


def test_a_table_of_other_pixels_is_foreign():
    lite = DiffCalTable.from_difc(np.full(18432, 5000.0))
    assert foreign_reason(lite, DiffCalTable.from_difc(np.full(18432, 5100.0))) is None
    assert "300 pixels" in foreign_reason(lite, DiffCalTable.from_difc(np.full(300, 5000.0)))
    shuffled = DiffCalTable.from_difc(np.full(18432, 5000.0))
    shuffled.detid[:2] = shuffled.detid[1::-1]
    assert "detector ids" in foreign_reason(lite, shuffled)


def test_artifact_keys_are_prefect_keys_unique_per_run_iteration_and_flow_run():
    run_id = "1A2B3C4D-0000-4000-8000-000000000000"
    key = artifact_key("report", run_number=58810, iteration=2, flow_run_id=run_id)
    assert key == KEY
    plot = artifact_key("plot-difc_change", run_number=58810, iteration=2, flow_run_id=run_id)
    assert plot == "calibration-plot-difc-change-run-58810-iteration-2-1a2b3c4d"
    assert all(re.fullmatch(r"[a-z0-9-]+", k) for k in (key, plot))
    assert artifact_key("report", run_number=58810, iteration=3, flow_run_id=run_id) != key
