"""Build the approval report of a calibration iteration: markdown, PNG plots and comparisons."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from snapcal_core.errors import StorageError
from snapcal_core.instrument.groupings import load_grouping
from snapcal_core.models import DetectorState
from snapcal_core.recipe.metrics import DifcChange, difc_change
from snapcal_core.recipe.result_io import FOCUSED_FILE, MASK_FILE, ResultSummary, read_mask_reason, read_table
from snapcal_core.report.markdown import report_markdown
from snapcal_core.report.plots import difc_change_png, focused_spectra_png, mask_png, strain_png
from snapcal_core.storage.store import applicable_version, load_version


class ReportRef(BaseModel):
    """Where an iteration's report lives (small: paths and the markdown text)."""

    iteration: int
    markdown: str
    plots: dict[str, str]
    comparisons: list[str]
    applicable_change: list[DifcChange] = Field(
        default_factory=list, description="DIFC change per group against the applicable stored calibration (empty: none)")


def build_report(summaries: list[ResultSummary], *, state: DetectorState, home: Path,
                 compare_versions: list[int]) -> ReportRef:
    """Report of the last of ``summaries``: metrics, DIFC change vs the applicable calibration,
    vs every earlier iteration and vs the stored versions asked for; plots beside the result."""
    latest = summaries[-1]
    folder = Path(latest.folder)
    table = read_table(folder)
    grouping = load_grouping(latest.grouping, lite=latest.lite)
    others: dict[str, object] = {}
    try:
        entry = applicable_version(home, state.state_id(), lite=latest.lite, run_number=latest.run_number)
        others[f"applicable calibration v_{entry.version:04d}"] = load_version(
            home, state.state_id(), lite=latest.lite, version=entry.version).table
    except StorageError:
        pass  # no calibration stored for this state yet
    for i, earlier in enumerate(summaries[:-1], start=1):
        others[f"iteration {i}"] = read_table(Path(earlier.folder))
    for version in compare_versions:
        try:
            others[f"stored v_{version:04d}"] = load_version(home, state.state_id(), lite=latest.lite, version=version).table
        except StorageError as exc:
            others[f"stored v_{version:04d} (not available: {exc})"] = None
    comparisons = {label: difc_change(new=table, old=old, grouping=grouping) for label, old in others.items()
                   if old is not None and old.n_rows == table.n_rows}
    plots = {"focused": focused_spectra_png(latest, folder / "focused_fits.png"),
             "strain": strain_png(latest, folder / "strain_vs_two_theta.png")}
    reason = read_mask_reason(folder)
    if reason is not None and reason.size == table.n_rows and reason.size % 18 == 0:
        plots["mask"] = mask_png(reason, folder / "mask.png", title=f"run {latest.run_number}: masked pixels by reason "
                                 f"({'Lite' if latest.lite else 'native'})")
    reference_label = next(iter(comparisons), None)
    if reference_label is not None:
        plots["difc_change"] = difc_change_png(table.difc, others[reference_label].difc, table.use,
                                               folder / "difc_change.png", title=f"DIFC change vs {reference_label}")
    markdown = report_markdown(latest, iteration=len(summaries), comparisons=comparisons)
    (folder / "report.md").write_text(markdown)
    applicable = next((v for k, v in comparisons.items() if k.startswith("applicable calibration")), [])
    return ReportRef(iteration=len(summaries), markdown=markdown, plots={k: str(v) for k, v in plots.items()},
                     comparisons=list(comparisons), applicable_change=applicable)


def extra_files_for_store(summary: ResultSummary, report: ReportRef) -> dict[str, str]:
    """Files of an iteration that go into its stored version (focused data and fits, plots, report)."""
    folder = Path(summary.folder)
    files = {"focused_and_fits.h5": str(folder / FOCUSED_FILE), "result.json": str(folder / "result.json"),
             "report.md": str(folder / "report.md")}
    files.update({f"{name}.png": path for name, path in report.plots.items()})
    if (folder / MASK_FILE).is_file():
        files[f"pixelmask_{summary.run_number:06d}.h5"] = str(folder / MASK_FILE)
    return files
