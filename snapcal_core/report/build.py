"""Build the approval report of a calibration iteration: markdown, PNG plots and comparisons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.errors import StorageError
from snapcal_core.instrument.groupings import load_grouping
from snapcal_core.instrument.types import Grouping
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.models import DetectorState
from snapcal_core.recipe.metrics import DifcChange, difc_change
from snapcal_core.recipe.result_io import (
    FOCUSED_FILE,
    MASK_FILE,
    SUMMARY_FILE,
    ResultSummary,
    read_mask_reason,
    read_native_screen,
    read_table,
)
from snapcal_core.report.markdown import report_markdown
from snapcal_core.report.plots import difc_change_png, focused_spectra_png, mask_png, strain_png
from snapcal_core.storage.store import applicable_version, list_versions, load_version

#: Label prefix of the comparison with the calibration that currently applies to the run.
APPLICABLE = "applicable calibration"
#: The report's file in a result folder, beside its plots.
REPORT_FILE = "report.md"
#: Each plot's file in a result folder, by its name in :attr:`ReportRef.plots`.
PLOT_FILES = {"focused": "focused_fits.png", "strain": "strain_vs_two_theta.png", "mask": "mask.png",
              "native_screen": "mask_native_screen.png", "difc_change": "difc_change.png"}


class ReportRef(BaseModel):
    """Where an iteration's report lives (small: paths and the markdown text)."""

    iteration: int
    markdown: str
    plots: dict[str, str]
    comparisons: list[str]
    applicable_change: list[DifcChange] = Field(
        default_factory=list, description="DIFC change per group against the applicable stored calibration (empty: none)")
    not_compared: dict[str, str] = Field(
        default_factory=dict, description="Calibrations the report could not compare with (label -> why)")


def foreign_reason(new: DiffCalTable, old: DiffCalTable) -> str | None:
    """Why ``old`` cannot be compared pixel by pixel with ``new`` (None when it can)."""
    if old.n_rows != new.n_rows:
        return (f"its table has {old.n_rows} pixels and this calibration {new.n_rows} (another Lite/native mode "
                "or detector layout)")
    if not np.array_equal(old.detid, new.detid):
        return "its table lists other detector ids than this calibration (another pixel order or instrument)"
    return None


def _applicable_table(home: Path, state_id: str, latest: ResultSummary) -> tuple[str, DiffCalTable | str]:
    """Label and table of the stored calibration that applies to the run, or label and why there is none."""
    try:
        if not list_versions(home, state_id, lite=latest.lite):
            return f"the {APPLICABLE}", ("none is stored for this instrument state yet (a new state: this would be "
                                         "its first calibration)")
        entry = applicable_version(home, state_id, lite=latest.lite, run_number=latest.run_number)
    except StorageError as exc:
        return f"the {APPLICABLE}", f"none could be found ({exc})"
    label = f"{APPLICABLE} v_{entry.version:04d}"
    try:
        return label, load_version(home, state_id, lite=latest.lite, version=entry.version).table
    except StorageError as exc:
        return label, f"it could not be read ({exc})"


def _others(summaries: list[ResultSummary], *, state_id: str, home: Path,
            compare_versions: list[int]) -> dict[str, DiffCalTable | str]:
    """Every table the latest iteration is compared with (label -> table, or why it is not available)."""
    latest = summaries[-1]
    label, applicable = _applicable_table(home, state_id, latest)
    others: dict[str, DiffCalTable | str] = {label: applicable}
    for i, earlier in enumerate(summaries[:-1], start=1):
        others[f"iteration {i}"] = read_table(Path(earlier.folder))
    for version in compare_versions:
        try:
            others[f"stored v_{version:04d}"] = load_version(home, state_id, lite=latest.lite, version=version).table
        except StorageError as exc:
            others[f"stored v_{version:04d}"] = f"it is not available ({exc})"
    return others


def _compare(table: DiffCalTable, grouping: Grouping,
             others: dict[str, DiffCalTable | str]) -> tuple[dict[str, list[DifcChange]], dict[str, str]]:
    """DIFC change against every comparable table; for the others, why no comparison is shown."""
    comparisons: dict[str, list[DifcChange]] = {}
    not_compared: dict[str, str] = {}
    for label, old in others.items():
        if isinstance(old, str):
            not_compared[label] = old
            continue
        why = foreign_reason(table, old)
        if why is None:
            comparisons[label] = difc_change(new=table, old=old, grouping=grouping)
        else:
            not_compared[label] = why
    return comparisons, not_compared


def _plots(latest: ResultSummary, table: DiffCalTable, reference: tuple[str, DiffCalTable] | None) -> dict[str, Path]:
    folder = Path(latest.folder)
    plots = {"focused": focused_spectra_png(latest, folder / PLOT_FILES["focused"]),
             "strain": strain_png(latest, folder / PLOT_FILES["strain"])}
    reason = read_mask_reason(folder)
    if reason is not None and reason.size == table.n_rows and reason.size % 18 == 0:
        plots["mask"] = mask_png(reason, folder / PLOT_FILES["mask"],
                                 title=f"run {latest.run_number}: masked pixels by reason "
                                 f"({'Lite' if latest.lite else 'native'})")
    screened = read_native_screen(folder) if latest.lite else None
    if screened is not None and screened.any():
        plots["native_screen"] = mask_png(screened, folder / PLOT_FILES["native_screen"],
                                          title=f"run {latest.run_number}: native pixels screened at load "
                                          f"(their events dropped before the Lite superpixels were made)")
    if reference is not None:
        label, old = reference
        plots["difc_change"] = difc_change_png(table.difc, old.difc, table.use, folder / PLOT_FILES["difc_change"],
                                               title=f"DIFC change vs {label}")
    return plots


def build_report(summaries: list[ResultSummary], *, state: DetectorState, home: Path,
                 compare_versions: list[int]) -> ReportRef:
    """Report of the last of ``summaries``: metrics, DIFC change vs the applicable calibration,
    vs every earlier iteration and vs the stored versions asked for; plots beside the result."""
    latest = summaries[-1]
    folder = Path(latest.folder)
    table = read_table(folder)
    grouping = load_grouping(latest.grouping, lite=latest.lite)
    others = _others(summaries, state_id=state.state_id(), home=home, compare_versions=compare_versions)
    comparisons, not_compared = _compare(table, grouping, others)
    reference = next(((label, old) for label, old in others.items()
                      if label in comparisons and not isinstance(old, str)), None)
    plots = _plots(latest, table, reference)
    markdown = report_markdown(latest, iteration=len(summaries), comparisons=comparisons, not_compared=not_compared)
    (folder / REPORT_FILE).write_text(markdown)
    applicable = next((v for k, v in comparisons.items() if k.startswith(APPLICABLE)), [])
    return ReportRef(iteration=len(summaries), markdown=markdown, plots={k: str(v) for k, v in plots.items()},
                     comparisons=list(comparisons), applicable_change=applicable, not_compared=not_compared)


def read_report(folder: Path) -> tuple[str, list[Path]]:
    """The report :func:`build_report` wrote into a result folder: its markdown ("" when none was
    built) and its plots."""
    report = Path(folder) / REPORT_FILE
    return (report.read_text() if report.is_file() else ""), sorted(Path(folder).glob("*.png"))


def extra_files_for_store(summary: ResultSummary, report: ReportRef) -> dict[str, str]:
    """Files of an iteration that go into its stored version (focused data and fits, plots, report)."""
    folder = Path(summary.folder)
    files = {name: str(folder / name) for name in (FOCUSED_FILE, SUMMARY_FILE, REPORT_FILE)}
    files.update({f"{name}.png": path for name, path in report.plots.items()})
    if (folder / MASK_FILE).is_file():
        files[f"pixelmask_{summary.run_number:06d}.h5"] = str(folder / MASK_FILE)
    return files
