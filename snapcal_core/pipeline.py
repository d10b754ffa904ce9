"""The mission as file-based steps (what the Prefect tasks wrap): every step takes and returns paths
and small models, so large arrays stay on disk in the scratch area."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.calibrant.peaks import predicted_peaks_for_groups
from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.data.load import load_run
from snapcal_core.data.locate import find_ipts, raw_file_path
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import load_grouping
from snapcal_core.instrument.parameters import group_parameters
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal, write_diffcal
from snapcal_core.models import DetectorState, validate_run_number
from snapcal_core.recipe.calibrate import RecipeSettings, calibrate, geometric_table
from snapcal_core.recipe.pixel import PixelIteration, finish_loop, run_iteration, start_loop
from snapcal_core.recipe.result_io import ResultSummary, write_result
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
    from snapcal_core.data.load import read_event_file  # reads the state only once here

    run = validate_run_number(run_number)
    ipts = find_ipts(run, data_root=settings.data_root)
    raw = raw_file_path(settings.data_root, ipts=ipts, run_number=run)
    _, _, meta = read_event_file(raw)
    return RunRef(run_number=run, ipts=ipts, raw_path=str(raw), state=meta["state"], state_id=meta["state"].state_id())


def load_to_scratch(run_number: int, *, lite: bool, settings: SnapcalSettings) -> str:
    """Load (and convert to Lite) a run's events and keep them in the scratch area."""
    events = load_run(run_number, lite=lite, settings=settings)
    return str(save_events(events, events_dir(settings.scratch_dir, run_number=run_number, lite=lite)))


def _peaks(request: CalibrationRequest, state: DetectorState, grouping):
    geometry = snap_geometry(arc_deg=state.arc_deg, lin_m=state.lin_m, lite=request.lite)
    groups = group_parameters(geometry=geometry, grouping=grouping, wavelength_angstrom=state.wavelength_angstrom)
    reflections = calibrant_reflections(load_sample(request.sample))
    return predicted_peaks_for_groups(reflections=reflections, groups=groups, settings=request.recipe.peaks)


def initial_table(events_path: str, request: CalibrationRequest, work_dir: Path, start_table: str | None = None) -> str:
    """The table the loop starts from (geometry, or a given table, e.g. a previous iteration's)."""
    events = load_events(Path(events_path))
    grouping = load_grouping(request.grouping, lite=request.lite)
    table = read_diffcal(start_table) if start_table else geometric_table(events, grouping)
    table = DiffCalTable(detid=table.detid, difc=table.difc, difa=table.difa, tzero=table.tzero,
                         group=grouping.group_of_pixel, use=table.use, instrument_name=table.instrument_name)
    work_dir.mkdir(parents=True, exist_ok=True)
    return str(write_diffcal(work_dir / "table_initial.h5", table))


def pixel_step(events_path: str, request: CalibrationRequest, *, table_in: str, table_initial: str, iteration: int,
               previous_median: float, work_dir: Path) -> PixelStep:
    """One cross-correlation iteration from files; on the last one, unconverged pixels are masked."""
    events = load_events(Path(events_path))
    grouping = load_grouping(request.grouping, lite=request.lite)
    table = read_diffcal(table_in)
    loop = start_loop(pixel=events.pixel, tof_us=events.tof_us, group_of_pixel=grouping.group_of_pixel,
                      peaks=_peaks(request, events.metadata.state, grouping), table=table,
                      settings=request.recipe.pixel, input_use=read_diffcal(table_initial).use)
    loop.previous_median = previous_median
    stats = run_iteration(loop, iteration)
    result = finish_loop(loop) if loop.done else loop.result
    out = DiffCalTable(detid=table.detid, difc=result.difc, difa=table.difa, tzero=table.tzero, group=table.group,
                       use=result.use, instrument_name=table.instrument_name)
    path = write_diffcal(work_dir / f"table_pixel_{iteration:02d}.h5", out)
    np.save(work_dir / f"offsets_{iteration:02d}.npy", result.offsets_bins)
    return PixelStep(table_path=str(path), stats=stats, done=loop.done, stop_reason=result.stop_reason,
                     converged=result.converged)


def group_step(events_path: str, request: CalibrationRequest, *, table_path: str, out_folder: Path,
               iterations: list[PixelIteration], stop_reason: str, converged: bool | None) -> ResultSummary:
    """Focus with the pixel-calibrated table, fit groups, assess; writes the result folder."""
    events = load_events(Path(events_path))
    grouping = load_grouping(request.grouping, lite=request.lite)
    calibrant = load_sample(request.sample)
    settings = request.recipe.model_copy(update={"skip_pixel": True})
    result = calibrate(events=events, grouping=grouping, reflections=calibrant_reflections(calibrant),
                       settings=settings, table=read_diffcal(table_path))
    summary = write_result(result, out_folder, run_number=events.metadata.run_number, sample=calibrant.name,
                           grouping=grouping.name, lite=request.lite, state_id=events.metadata.state.state_id(),
                           settings=request.recipe)
    summary = summary.model_copy(update={"iterations": iterations, "stop_reason": stop_reason, "converged": converged})
    (out_folder / "result.json").write_text(summary.model_dump_json(indent=1))
    return summary
