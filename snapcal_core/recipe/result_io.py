"""A recipe result on disk: table (diffcal), focused spectra + fits (HDF5), summary (JSON).

The folder is what later steps pass around (Prefect tasks, the store): large arrays stay in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.constants import N_LITE_PIXELS, N_NATIVE_PIXELS
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal, write_diffcal
from snapcal_core.io.mask import PixelMask, write_mask_file
from snapcal_core.recipe.align import GroupShift
from snapcal_core.recipe.calibrate import CalibrationResult, RecipeSettings
from snapcal_core.recipe.difc_fit import DifcFit
from snapcal_core.recipe.faulty import MaskSummary, mask_summary
from snapcal_core.recipe.metrics import GroupMetrics
from snapcal_core.recipe.peakfit import PeakFit
from snapcal_core.recipe.pixel import PixelIteration
from snapcal_core.scratch import write_folder

TABLE_FILE = "diffract_consts.h5"
#: The table's mask alone, in SNAPRed's mask-file layout (io/mask.py), for Mantid's LoadDiffCal / LoadMask users.
MASK_FILE = "pixelmask.h5"
MASK_REASON_FILE = "mask_reason.npy"
NATIVE_SCREEN_FILE = "native_mask_reason.npy"  # Lite results: the natives screened at load
FOCUSED_FILE = "focused_and_fits.h5"
SUMMARY_FILE = "result.json"


class GroupSummary(BaseModel):
    group_id: int
    two_theta_deg: float
    difc_arb: float = Field(description="DIFC of the focused TOF axis the group fit used")
    difc_fit: DifcFit
    alignment: GroupShift = Field(GroupShift(), description="Group-common offset added to the pixels before the "
                                  "final focusing (recipe/align.py); the fit is relative to it")
    tzero_us: float = Field(0.0, description="Mean TZERO of the group's pixels in use in the new table")
    fits_tof: list[PeakFit]
    fits_d: list[PeakFit]
    metrics: GroupMetrics


class ResultSummary(BaseModel):
    """Small, JSON-able description of a recipe result (travels through Prefect; no arrays)."""

    run_number: int
    sample: str
    grouping: str
    lite: bool
    state_id: str
    settings: RecipeSettings
    iterations: list[PixelIteration]
    converged: bool | None
    stop_reason: str
    n_pixels: int
    n_masked: int
    groups: list[GroupSummary]
    folder: str
    held_out_focus: bool = Field(False, description="Group step focused each half of the events with the other "
                                 "half's constants (sparse pixels; recipe/held_out.py)")
    masked: list[MaskSummary] = Field(default_factory=list, description="Masked pixels per group and reason "
                                      "(dead, hot, noisy found before the pixel loop; failed fits; the user's)")


def summarize(result: CalibrationResult, *, run_number: int, sample: str, grouping: str, lite: bool, state_id: str,
              settings: RecipeSettings, folder: Path) -> ResultSummary:
    metrics = {m.group_id: m for m in result.metrics}
    params = {g.group_id: g for g in result.groups}
    groups = [GroupSummary(group_id=gc.group_id, two_theta_deg=params[gc.group_id].two_theta_deg, difc_arb=gc.difc_arb,
                           difc_fit=gc.difc_fit, alignment=result.group_shifts.get(gc.group_id, GroupShift()),
                           tzero_us=result.group_tzero_us.get(gc.group_id, float("nan")), fits_tof=gc.fits,
                           fits_d=result.fits_in_d[gc.group_id], metrics=metrics[gc.group_id]) for gc in result.group_fits]
    in_group = result.table.group > 0
    return ResultSummary(
        run_number=run_number, sample=sample, grouping=grouping, lite=lite, state_id=state_id, settings=settings,
        iterations=result.iterations, converged=result.pixel.converged if result.pixel else None,
        stop_reason=result.pixel.stop_reason if result.pixel else "pixel step skipped",
        n_pixels=int(in_group.sum()), n_masked=int((in_group & (result.table.use == 0)).sum()), groups=groups,
        folder=str(folder), held_out_focus=result.held_out_focus, masked=_masked(result))


def _masked(result: CalibrationResult) -> list[MaskSummary]:
    reason = result.pixel.mask_reason if result.pixel is not None else None
    if reason is None or reason.shape != result.table.group.shape:
        return []
    return mask_summary(reason=reason, group_of_pixel=result.table.group)


def write_result(result: CalibrationResult, folder: Path, *, native_mask_reason: np.ndarray | None = None,
                 **summary_fields: Any) -> ResultSummary:
    """Write the result into ``folder`` (built beside it and renamed into place); a Lite result
    also keeps ``native_mask_reason`` (the native pixels screened at load, whose events were
    dropped before the superpixels were made) as :data:`NATIVE_SCREEN_FILE`, for the report."""
    folder = Path(folder)

    def fill(tmp: Path) -> ResultSummary:
        write_diffcal(tmp / TABLE_FILE, result.table)
        if native_mask_reason is not None and result.table.n_rows == N_LITE_PIXELS \
                and native_mask_reason.size == N_NATIVE_PIXELS:
            np.save(tmp / NATIVE_SCREEN_FILE, native_mask_reason)
        _write_mask(tmp / MASK_FILE, result.table)
        with h5py.File(tmp / FOCUSED_FILE, "w") as f:
            f.create_dataset("group_ids", data=result.focused.group_ids)
            f.create_dataset("d_edges_angstrom", data=result.focused.d_edges_angstrom)
            f.create_dataset("counts", data=result.focused.counts, compression="gzip", compression_opts=1)
            if result.pixel is not None:
                f.create_dataset("pixel/offsets_bins", data=result.pixel.offsets_bins)
                f.create_dataset("pixel/difc_uncertainty", data=result.pixel.difc_uncertainty)
                f.create_dataset("pixel/counts_in_windows", data=result.pixel.counts_in_windows)
                if result.pixel.mask_reason is not None:
                    f.create_dataset("pixel/mask_reason", data=result.pixel.mask_reason)
            f.create_dataset("initial/difc", data=result.initial_table.difc)
        summary = summarize(result, folder=folder, **summary_fields)
        (tmp / SUMMARY_FILE).write_text(summary.model_dump_json(indent=1))
        return summary

    return write_folder(folder, fill)


def _write_mask(path: Path, table: DiffCalTable) -> None:
    """The table's ``use = 0`` pixels as a mask file (SNAP's pixel counts only)."""
    if table.n_rows not in (N_LITE_PIXELS, N_NATIVE_PIXELS) or not np.array_equal(table.detid, np.arange(table.n_rows)):
        return
    lite = table.n_rows == N_LITE_PIXELS
    write_mask_file(path, PixelMask(masked=table.use == 0, lite=lite, source="snapcal calibration table"), lite=lite)


def read_native_screen(folder: Path) -> np.ndarray | None:
    """The native pixels screened at load of a Lite result folder (MaskReason per native pixel), or None."""
    path = Path(folder) / NATIVE_SCREEN_FILE
    return np.load(path) if path.is_file() else None


def read_mask_reason(folder: Path) -> np.ndarray | None:
    """Every pixel's mask reason (MaskReason) of a result folder: ``pixel/mask_reason`` of the focused
    file, else ``mask_reason.npy`` (the flow's file-based steps), else None."""
    folder = Path(folder)
    if (folder / FOCUSED_FILE).is_file():
        with h5py.File(folder / FOCUSED_FILE) as f:
            if "pixel/mask_reason" in f:
                in_file: np.ndarray = f["pixel/mask_reason"][()]
                return in_file
    from_npy: np.ndarray | None = np.load(folder / MASK_REASON_FILE) if (folder / MASK_REASON_FILE).is_file() else None
    return from_npy


def read_summary(folder: Path) -> ResultSummary:
    return ResultSummary.model_validate_json((Path(folder) / SUMMARY_FILE).read_text())


def read_table(folder: Path) -> DiffCalTable:
    return read_diffcal(Path(folder) / TABLE_FILE)


def read_focused(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(group_ids, d_edges, counts)`` of the final focused spectra."""
    with h5py.File(Path(folder) / FOCUSED_FILE) as f:
        return f["group_ids"][()], f["d_edges_angstrom"][()], f["counts"][()]
