"""The mission as file-based steps (what the Prefect tasks wrap): every step takes and returns paths
and small models, so large arrays stay on disk in the scratch area."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.data.load import load_run
from snapcal_core.data.locate import find_ipts, raw_file_path
from snapcal_core.data.read import read_header
from snapcal_core.instrument.groupings import load_grouping
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal, write_diffcal
from snapcal_core.models import DetectorState, validate_run_number
from snapcal_core.instrument.types import GroupParameters
from snapcal_core.recipe.align import GroupShift, shift_table
from snapcal_core.recipe.faulty import mask_summary
from snapcal_core.recipe.user_mask import masked_table, user_mask
from snapcal_core.recipe.calibrate import (
    GroupStep,
    RecipeSettings,
    finish_calibration,
    geometric_table,
    groups_and_peaks,
    prepare_group_step,
)
from snapcal_core.recipe.focus import FocusedSpectra
from snapcal_core.recipe.group import GroupCalibration, calibrate_group
from snapcal_core.recipe.held_out import HeldOutTables
from snapcal_core.recipe.mixture import PeakMixture
from snapcal_core.recipe.types import GroupPeakList
from snapcal_core.recipe.pixel import PixelIteration, finish_loop, run_iteration, start_loop
from snapcal_core.recipe.result_io import MASK_REASON_FILE, ResultSummary, write_result
from snapcal_core.scratch import events_dir, load_events, save_events
from snapcal_core.settings import SnapcalSettings


class CalibrationRequest(BaseModel):
    """What to calibrate and how (the flow's validated parameters without the approval policy)."""

    run_number: int
    sample: str = Field(description="Calibrant sample name, JSON file or NCrystal material")
    grouping: str = Field("Column", description="Column, Bank, All or a grouping file")
    lite: bool = True
    recipe: RecipeSettings = RecipeSettings()


class RunRef(BaseModel):
    """A resolved run: where its file is and which state it was taken in."""

    run_number: int
    ipts: int
    raw_path: str
    state: DetectorState
    state_id: str


class PixelStep(BaseModel):
    """Outcome of one pixel iteration task."""

    table_path: str
    stats: PixelIteration
    done: bool
    stop_reason: str
    converged: bool


def resolve_run(run_number: int, settings: SnapcalSettings) -> RunRef:
    """IPTS, raw file and instrument state of a run (the file's header only: no event is read)."""
    run = validate_run_number(run_number)
    ipts = find_ipts(run, data_root=settings.data_root)
    raw = raw_file_path(settings.data_root, ipts=ipts, run_number=run)
    state = read_header(raw).state
    return RunRef(run_number=run, ipts=ipts, raw_path=str(raw), state=state, state_id=state.state_id())


def load_to_scratch(run_number: int, *, lite: bool, settings: SnapcalSettings) -> str:
    """Load (and convert to Lite) a run's events and keep them in the scratch area."""
    events = load_run(run_number, lite=lite, settings=settings)
    return str(save_events(events, events_dir(settings.scratch_dir, run_number=run_number, lite=lite)))


INITIAL_REASON_FILE = "mask_reason_initial.npy"


def initial_table(events_path: str, request: CalibrationRequest, work_dir: Path, start_table: str | None = None) -> str:
    """The table the loop starts from (geometry, or a given table, e.g. a previous iteration's). A
    start table's mask comes with the reasons saved beside it (``mask_reason.npy`` of a result folder),
    written beside the initial table for the pixel steps, so a pixel found hot stays 'hot'."""
    events = load_events(Path(events_path))
    grouping = load_grouping(request.grouping, lite=request.lite)
    table = read_diffcal(start_table) if start_table else geometric_table(events, grouping)
    table = masked_table(table, user_mask(mask_file=request.recipe.mask_file, grouping=grouping))
    table = DiffCalTable(detid=table.detid, difc=table.difc, difa=table.difa, tzero=table.tzero,
                         group=grouping.group_of_pixel, use=table.use, instrument_name=table.instrument_name)
    work_dir.mkdir(parents=True, exist_ok=True)
    reasons = Path(start_table).with_name(MASK_REASON_FILE) if start_table else None
    if reasons is not None and reasons.is_file():
        shutil.copyfile(reasons, work_dir / INITIAL_REASON_FILE)
    return str(write_diffcal(work_dir / "table_initial.h5", table))


def pixel_step(events_path: str, request: CalibrationRequest, *, table_in: str, table_initial: str, iteration: int,
               previous_median: float, work_dir: Path) -> PixelStep:
    """One cross-correlation iteration from files; on the last one, unconverged pixels are masked."""
    events = load_events(Path(events_path))
    grouping = load_grouping(request.grouping, lite=request.lite)
    table = read_diffcal(table_in)
    loop = start_loop(pixel=events.pixel, tof_us=events.tof_us, group_of_pixel=grouping.group_of_pixel,
                      peaks=groups_and_peaks(events=events, grouping=grouping, settings=request.recipe,
                                             reflections=calibrant_reflections(load_sample(request.sample)),
                                             mask=user_mask(mask_file=request.recipe.mask_file, grouping=grouping))[1],
                      table=table,
                      settings=request.recipe.pixel, input_use=read_diffcal(table_initial).use,
                      known_reason=None if events.lite else events.native_mask_reason,
                      input_reason=_initial_reasons(table_initial))
    loop.previous_median = previous_median
    stats = run_iteration(loop, iteration)
    result = finish_loop(loop) if loop.done else loop.result
    out = DiffCalTable(detid=table.detid, difc=result.difc, difa=table.difa, tzero=table.tzero, group=table.group,
                       use=result.use, instrument_name=table.instrument_name)
    path = write_diffcal(work_dir / f"table_pixel_{iteration:02d}.h5", out)
    np.save(work_dir / f"offsets_{iteration:02d}.npy", result.offsets_bins)
    if loop.done and result.mask_reason is not None:
        np.save(work_dir / MASK_REASON_FILE, result.mask_reason)  # beside the table: finish_step reads it
    return PixelStep(table_path=str(path), stats=stats, done=loop.done, stop_reason=result.stop_reason,
                     converged=result.converged)


def _initial_reasons(table_initial: str) -> np.ndarray | None:
    path = Path(table_initial).with_name(INITIAL_REASON_FILE)
    return np.load(path) if path.is_file() else None


class FocusRef(BaseModel):
    """Where a focused group step lives, and its groups (so group fits can be handed out one by one)."""

    folder: str
    group_ids: list[int]


def _write_group_step(step: GroupStep, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    f = step.focused
    np.savez(folder / "focused.npz", group_ids=f.group_ids, d_edges_angstrom=f.d_edges_angstrom, counts=f.counts)
    meta = {"groups": [g.model_dump(mode="json") for g in step.groups],
            "peaks": [p.model_dump(mode="json") for p in step.peak_lists],
            "difc_arb": {str(k): v for k, v in step.difc_arb.items()},
            "difc_tail": {str(k): v for k, v in step.difc_tail.items()},
            "shifts": {str(k): v.model_dump(mode="json") for k, v in step.shifts.items()},
            "mixtures": {str(k): [m.model_dump(mode="json") if m is not None else None for m in v]
                         for k, v in step.mixtures.items()}}
    (folder / "group_step.json").write_text(json.dumps(meta))
    for h, table in enumerate(step.held_out.tables if step.held_out is not None else ()):
        write_diffcal(folder / f"held_out_{h}.h5", table)


def _read_group_step(folder: Path, current: DiffCalTable | None, *, held_out: bool = True,
                     group_of_pixel: np.ndarray | None = None) -> GroupStep:
    """The group step written by :func:`_write_group_step`; ``current`` (the pixel-step table) gets
    the step's group shifts (recipe/align.py) when ``group_of_pixel`` is given."""
    with np.load(folder / "focused.npz") as z:
        focused = FocusedSpectra(group_ids=z["group_ids"], d_edges_angstrom=z["d_edges_angstrom"], counts=z["counts"])
    meta = json.loads((folder / "group_step.json").read_text())
    shifts = {int(k): GroupShift.model_validate(v) for k, v in meta.get("shifts", {}).items()}
    if current is not None and group_of_pixel is not None:
        current = shift_table(current, group_of_pixel=group_of_pixel, shifts=shifts)
    held = None
    if held_out and (folder / "held_out_0.h5").exists():  # the group fits do not need them
        held = HeldOutTables(tables=(read_diffcal(folder / "held_out_0.h5"), read_diffcal(folder / "held_out_1.h5")))
    return GroupStep(current=current, groups=[GroupParameters.model_validate(g) for g in meta["groups"]],
                     peak_lists=[GroupPeakList.model_validate(p) for p in meta["peaks"]], focused=focused,
                     difc_arb={int(k): v for k, v in meta["difc_arb"].items()},
                     difc_tail={int(k): v for k, v in meta["difc_tail"].items()}, held_out=held, shifts=shifts,
                     mixtures={int(k): [PeakMixture.model_validate(m) if m is not None else None for m in v]
                               for k, v in meta.get("mixtures", {}).items()})


def focus_step(events_path: str, request: CalibrationRequest, *, table_path: str, work_dir: Path) -> FocusRef:
    """Focus every group with the pixel-calibrated table; the spectra and peak lists go to ``work_dir``."""
    events = load_events(Path(events_path))
    grouping = load_grouping(request.grouping, lite=request.lite)
    groups, peaks = groups_and_peaks(events=events, grouping=grouping, settings=request.recipe,
                                     reflections=calibrant_reflections(load_sample(request.sample)),
                                     mask=user_mask(mask_file=request.recipe.mask_file, grouping=grouping))
    step = prepare_group_step(events=events, grouping=grouping, groups=groups, peaks=peaks, settings=request.recipe,
                              current=read_diffcal(table_path))
    _write_group_step(step, work_dir)
    return FocusRef(folder=str(work_dir), group_ids=[p.group_id for p in step.peak_lists])


def fit_group_step(focus: FocusRef, request: CalibrationRequest, group_id: int) -> GroupCalibration:
    """Peak fits and constants of one group (independent of the others)."""
    step = _read_group_step(Path(focus.folder), current=None, held_out=False)
    plist = next(p for p in step.peak_lists if p.group_id == group_id)
    return calibrate_group(focused=step.focused, plist=plist, difc_arb=step.difc_arb[group_id],
                           difc_tail=step.difc_tail.get(group_id), mixtures=step.mixtures.get(group_id),
                           mode=request.recipe.fit_mode, settings=request.recipe.peak_fit)


def finish_step(events_path: str, request: CalibrationRequest, *, table_path: str, focus: FocusRef,
                group_fits: list[GroupCalibration], out_folder: Path, iterations: list[PixelIteration],
                stop_reason: str, converged: bool | None) -> ResultSummary:
    """Apply the group fits, assess the final focused spectra and write the result folder."""
    events = load_events(Path(events_path))
    grouping = load_grouping(request.grouping, lite=request.lite)
    current = read_diffcal(table_path)
    step = _read_group_step(Path(focus.folder), current=current, group_of_pixel=grouping.group_of_pixel)
    result = finish_calibration(events=events, grouping=grouping, step=step, group_fits=group_fits,
                                settings=request.recipe, initial=current, pixel_result=None)
    summary = write_result(result, out_folder, native_mask_reason=events.native_mask_reason,
                           run_number=events.metadata.run_number, sample=load_sample(request.sample).name,
                           grouping=grouping.name, lite=request.lite, state_id=events.metadata.state.state_id(),
                           settings=request.recipe)
    reasons = Path(table_path).with_name(MASK_REASON_FILE)
    masked = []
    if reasons.is_file():
        reason = np.load(reasons)
        masked = mask_summary(reason=reason, group_of_pixel=grouping.group_of_pixel)
        np.save(out_folder / MASK_REASON_FILE, reason)  # beside the result, for the report's mask image
    summary = summary.model_copy(update={"iterations": iterations, "stop_reason": stop_reason, "converged": converged,
                                         "masked": masked})
    (out_folder / "result.json").write_text(summary.model_dump_json(indent=1))
    return summary
