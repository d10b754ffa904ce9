"""The recipe's steps (:mod:`snapcal_core.recipe.steps`) on files, for the Prefect tasks: each
takes and returns paths and small models, so large arrays stay on disk in the scratch area, and
:class:`FileSteps` sequences them without Prefect (the flow sequences the tasks that wrap them
with the same :func:`~snapcal_core.recipe.sequence.run_steps`).

A run is resolved once (:func:`resolve_run`: every input checked before any event is read); the
grouping and the sample are read from their names or files once per recipe, by the setup step,
and travel as the setup folder (``grouping.npy``, ``setup.json``) through the later steps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.calibrant.types import GroupPeakList
from snapcal_core.data.load import load_event_file
from snapcal_core.instrument.groupings import load_grouping
from snapcal_core.instrument.types import Grouping, GroupParameters
from snapcal_core.io.diffcal import read_diffcal, write_diffcal
from snapcal_core.models import DetectorState, EventData
from snapcal_core.preflight import RunRef, check_calibration
from snapcal_core.recipe.calibrate import RecipeSettings, finish_calibration, prepare_group_step
from snapcal_core.recipe.group import GroupCalibration
from snapcal_core.recipe.pixel import PixelCalibrationResult, PixelIteration
from snapcal_core.recipe.result_io import ResultSummary, read_mask_reason, read_table, write_result
from snapcal_core.recipe.sequence import LoopRecord, MemorySteps, run_steps
from snapcal_core.recipe.step_io import read_group_step, read_pixel_result, write_group_step, write_pixel_result
from snapcal_core.recipe.steps import PixelOutcome, Setup, fit_group, pixel_step, setup_step
from snapcal_core.scratch import events_dir, load_events, save_events, write_folder
from snapcal_core.settings import SnapcalSettings, get_settings
from snapcal_core.storage.models import SavedVersion, SaveRequest
from snapcal_core.storage.store import save_calibration

SETUP_JSON, GROUPING_FILE, INITIAL_TABLE = "setup.json", "grouping.npy", "table_initial.h5"
INITIAL_REASON_FILE = "mask_reason_initial.npy"
PIXEL_TABLE, FAULTY_FILE = "table.h5", "faulty.npy"


class CalibrationRequest(BaseModel):
    """What to calibrate and how (the flow's validated parameters without the approval policy)."""

    run_number: int
    sample: str = Field(description="Calibrant sample name, JSON file or NCrystal material")
    grouping: str = Field("Column", description="Column, Bank, All or a grouping file")
    lite: bool = True
    recipe: RecipeSettings = RecipeSettings()


def resolve_run(request: CalibrationRequest, settings: SnapcalSettings, *, author: str | None = None) -> RunRef:
    """Every input of ``request`` checked (run, IPTS, file header, sample, grouping, mask, author:
    :func:`~snapcal_core.preflight.check_calibration`) before any event is read; the resolved run."""
    return check_calibration(run_number=request.run_number, sample=request.sample, grouping=request.grouping,
                             lite=request.lite, mask_file=request.recipe.mask_file, author=author, settings=settings)


def load_to_scratch(ref: RunRef, *, lite: bool, settings: SnapcalSettings) -> str:
    """Load (and convert to Lite) the resolved run's events and keep them in the scratch area."""
    events = load_event_file(ref.event_file, lite_requested=lite, ipts=ref.ipts, run_number=ref.run_number)
    return str(save_events(events, events_dir(settings.scratch_dir, run_number=ref.run_number, lite=lite)))


class SetupRef(BaseModel):
    """Where a recipe's setup lives (grouping, start table, groups and peaks)."""

    folder: str
    table_path: str


def request_setup(events: EventData, request: CalibrationRequest, start_table: str | None = None) -> Setup:
    """The setup step (:func:`~snapcal_core.recipe.steps.setup_step`) of a request: the only place
    its grouping and sample are read. A start table (a previous iteration's result) brings its mask
    reasons, so a pixel found hot stays 'hot'."""
    calibrant = load_sample(request.sample)
    start = read_diffcal(start_table) if start_table else None
    return setup_step(events=events, grouping=load_grouping(request.grouping, lite=request.lite),
                      sample=calibrant.name, reflections=calibrant_reflections(calibrant), settings=request.recipe,
                      table=start, input_reason=read_mask_reason(Path(start_table).parent) if start_table else None)


def setup_to_files(events_path: str, request: CalibrationRequest, work_dir: Path,
                   start_table: str | None = None) -> SetupRef:
    """:func:`request_setup` into ``work_dir/setup``."""
    setup = request_setup(load_events(Path(events_path)), request, start_table)
    folder = Path(work_dir) / "setup"

    def fill(tmp: Path) -> None:
        write_diffcal(tmp / INITIAL_TABLE, setup.initial)
        np.save(tmp / GROUPING_FILE, setup.grouping.group_of_pixel)
        if setup.input_reason is not None:
            np.save(tmp / INITIAL_REASON_FILE, setup.input_reason)
        meta = {"grouping": setup.grouping.name, "lite": setup.grouping.lite, "sample": setup.sample,
                "groups": [g.model_dump(mode="json") for g in setup.groups],
                "peaks": [p.model_dump(mode="json") for p in setup.peaks]}
        (tmp / SETUP_JSON).write_text(json.dumps(meta))

    write_folder(folder, fill)
    return SetupRef(folder=str(folder), table_path=str(folder / INITIAL_TABLE))


def read_setup(ref: SetupRef) -> Setup:
    folder = Path(ref.folder)
    meta = json.loads((folder / SETUP_JSON).read_text())
    reason = folder / INITIAL_REASON_FILE
    grouping = Grouping(name=meta["grouping"], lite=meta["lite"], group_of_pixel=np.load(folder / GROUPING_FILE))
    return Setup(grouping=grouping, sample=meta["sample"], initial=read_diffcal(ref.table_path),
                 groups=[GroupParameters.model_validate(g) for g in meta["groups"]],
                 peaks=[GroupPeakList.model_validate(p) for p in meta["peaks"]],
                 input_reason=np.load(reason) if reason.is_file() else None)


class PixelStep(BaseModel):
    """Outcome of one pixel iteration on files (its folder: the table, the faulty pixels and, on the
    last iteration, the finished pixel result and the held-out tables)."""

    folder: str
    table: str = Field(description="The iteration's table (the next iteration's input)")
    stats: PixelIteration
    done: bool
    stop_reason: str
    converged: bool


def pixel_to_files(events_path: str, request: CalibrationRequest, *, setup: SetupRef, table_in: str, iteration: int,
                   previous_median: float, work_dir: Path) -> PixelStep:
    """One pixel iteration (:func:`~snapcal_core.recipe.steps.pixel_step`) from ``table_in`` (the
    setup's table, or the previous iteration's, whose folder holds the faulty pixels)."""
    faulty_path = Path(table_in).with_name(FAULTY_FILE)
    out = pixel_step(events=load_events(Path(events_path)), setup=read_setup(setup), settings=request.recipe,
                     table=read_diffcal(table_in), iteration=iteration, previous_median=previous_median,
                     faulty=np.load(faulty_path) if faulty_path.is_file() else None)
    folder = Path(work_dir) / f"pixel_{iteration:02d}"
    write_folder(folder, lambda tmp: _write_pixel(tmp, out))
    return PixelStep(folder=str(folder), table=str(folder / PIXEL_TABLE), stats=out.stats, done=out.done,
                     stop_reason=out.stop_reason, converged=out.converged)


def _write_pixel(folder: Path, out: PixelOutcome) -> None:
    write_diffcal(folder / PIXEL_TABLE, out.table)
    np.save(folder / FAULTY_FILE, out.faulty)
    if out.done:
        write_pixel_result(folder, out.pixel, held_out=out.held_out)


class FocusRef(BaseModel):
    """Where a focused group step lives, and its groups (so group fits can be handed out one by one)."""

    folder: str
    group_ids: list[int]


def focus_to_files(events_path: str, request: CalibrationRequest, *, setup: SetupRef, table_path: str,
                   last: PixelStep | None, work_dir: Path) -> FocusRef:
    """Focus every group with the pixel-calibrated table (held out where the pixel step made held-out tables)."""
    s = read_setup(setup)
    held = read_pixel_result(Path(last.folder))[1] if last is not None else None
    step = prepare_group_step(events=load_events(Path(events_path)), grouping=s.grouping, groups=s.groups,
                              peaks=s.peaks, settings=request.recipe, current=read_diffcal(table_path), held=held)
    write_folder(Path(work_dir), lambda tmp: write_group_step(step, tmp))
    return FocusRef(folder=str(work_dir), group_ids=[p.group_id for p in step.peak_lists])


def fit_group_from_files(focus: FocusRef, request: CalibrationRequest, group_id: int) -> GroupCalibration:
    """Peak fits and constants of one group (independent of the others)."""
    return fit_group(step=read_group_step(Path(focus.folder), held_out=False), group_id=group_id,
                     settings=request.recipe)


def finish_to_files(events_path: str, request: CalibrationRequest, *, setup: SetupRef, focus: FocusRef,
                    group_fits: list[GroupCalibration], iterations: list[PixelIteration], last: PixelStep | None,
                    out_folder: Path) -> ResultSummary:
    """Apply the group fits, assess the final focused spectra and write the result folder."""
    events, s = load_events(Path(events_path)), read_setup(setup)
    pixel: PixelCalibrationResult | None = None
    if last is not None:
        pixel = read_pixel_result(Path(last.folder))[0]
        pixel.iterations = list(iterations)
    result = finish_calibration(events=events, grouping=s.grouping, step=read_group_step(Path(focus.folder)),
                                group_fits=group_fits, settings=request.recipe, initial=s.initial, pixel_result=pixel)
    return write_result(result, out_folder, native_mask_reason=events.native_mask_reason,
                        run_number=events.metadata.run_number, sample=s.sample, grouping=s.grouping.name,
                        lite=request.lite, state_id=events.metadata.state.state_id(), settings=request.recipe)


class FileSteps:
    """The recipe's steps on files, sequenced by :func:`~snapcal_core.recipe.sequence.run_steps`
    without Prefect (the flow's steps call the tasks wrapping these same functions)."""

    def __init__(self, events_path: str, request: CalibrationRequest, work_dir: Path, start_table: str | None = None):
        self.events_path, self.request, self.work, self.start_table = events_path, request, Path(work_dir), start_table
        self.setup: SetupRef | None = None

    def initial(self) -> str:
        self.setup = setup_to_files(self.events_path, self.request, self.work, self.start_table)
        return self.setup.table_path

    def pixel(self, table: str, iteration: int, previous_median: float, last: PixelStep | None) -> PixelStep:
        assert self.setup is not None
        return pixel_to_files(self.events_path, self.request, setup=self.setup, table_in=table, iteration=iteration,
                              previous_median=previous_median, work_dir=self.work)

    def focus(self, table: str, last: PixelStep | None) -> FocusRef:
        assert self.setup is not None
        return focus_to_files(self.events_path, self.request, setup=self.setup, table_path=table, last=last,
                              work_dir=self.work / "focused")

    def fit_groups(self, focus: FocusRef) -> list[GroupCalibration]:
        return [fit_group_from_files(focus, self.request, g) for g in focus.group_ids]

    def finish(self, table: str, focus: FocusRef, fits: list[GroupCalibration],
               loop: LoopRecord[PixelStep]) -> ResultSummary:
        assert self.setup is not None
        return finish_to_files(self.events_path, self.request, setup=self.setup, focus=focus, group_fits=fits,
                               iterations=loop.iterations, last=loop.last, out_folder=self.work / "result")



def default_output(settings: SnapcalSettings, *, run_number: int, lite: bool) -> Path:
    return Path(settings.scratch_dir) / f"run_{run_number:06d}" / f"recipe_{'lite' if lite else 'native'}_{int(time.time())}"


def run_recipe(
    run_number: int, *, sample: str, grouping: str, lite: bool = True, recipe: RecipeSettings = RecipeSettings(),
    output: Path | None = None, settings: SnapcalSettings | None = None,
    on_iteration: Callable[[PixelIteration], None] | None = None, on_loaded: Callable[[EventData], None] | None = None,
    ref: RunRef | None = None,
) -> ResultSummary:
    """Calibrate a run end to end in memory (the same steps and sequence as the flow's) and write the
    result folder; returns its summary. ``ref``: the run already resolved (:func:`resolve_run`).
    ``on_loaded`` and ``on_iteration`` are told when the events are loaded and after each pixel
    iteration (progress)."""
    settings = settings or get_settings()
    request = CalibrationRequest(run_number=run_number, sample=sample, grouping=grouping, lite=lite, recipe=recipe)
    ref = ref or resolve_run(request, settings)
    events = load_event_file(ref.event_file, lite_requested=lite, ipts=ref.ipts, run_number=ref.run_number)
    if on_loaded is not None:
        on_loaded(events)
    setup = request_setup(events, request)
    result = run_steps(MemorySteps(events=events, settings=recipe, setup=setup), settings=recipe,
                       on_iteration=on_iteration)
    folder = output or default_output(settings, run_number=ref.run_number, lite=lite)
    return write_result(result, folder, native_mask_reason=events.native_mask_reason, run_number=ref.run_number,
                        sample=setup.sample, grouping=setup.grouping.name, lite=lite, state_id=ref.state_id,
                        settings=recipe)


def save_result(home: Path, summary: ResultSummary, *, state: DetectorState, author: str, comments: str,
                applies_to: str, extra_files: dict[str, str], approval: dict[str, Any] | None = None) -> SavedVersion:
    """Persist an approved result folder as a new version in the calibration store at ``home``."""
    request = SaveRequest(
        run_number=summary.run_number, state=state, lite=summary.lite, author=author, comments=comments,
        applies_to=applies_to, calibrant=summary.sample, grouping=summary.grouping,
        calculation_parameters=summary.settings.model_dump(mode="json"),
        group_metrics=[g.metrics.model_dump(mode="json") for g in summary.groups],
        iterations=[i.model_dump(mode="json") for i in summary.iterations], approval=approval or {})
    return save_calibration(home, request, read_table(Path(summary.folder)),
                            extra_files={k: Path(v) for k, v in extra_files.items()})
