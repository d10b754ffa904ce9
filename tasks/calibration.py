"""Prefect tasks of the calibration flow: each a few lines around a ``snapcal_core`` step.

They exchange paths and small pydantic models; events and tables stay in the scratch area.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TypedDict

from prefect import task, unmapped
from prefect.cache_policies import NO_CACHE

from snapcal_core import pipeline, threads
from snapcal_core.errors import SnapcalError
from snapcal_core.models import DetectorState
from snapcal_core.pipeline import CalibrationRequest, FocusRef, PixelStep, SetupRef, run_recipe
from snapcal_core.preflight import RunRef
from snapcal_core.recipe.group import GroupCalibration
from snapcal_core.recipe.pixel import PixelIteration
from snapcal_core.recipe.result_io import ResultSummary
from snapcal_core.recipe.sequence import LoopRecord
from snapcal_core.report.build import ReportRef, build_report
from snapcal_core.settings import get_settings
from snapcal_core.storage.models import SavedVersion
from tasks.cache import stamped_key


class _CacheOptions(TypedDict):
    persist_result: bool
    cache_expiration: timedelta


#: Steps of the recipe are cached by their inputs' stamps so that a resumed (re-executed) run reuses them.
RECIPE_CACHE = _CacheOptions(persist_result=True, cache_expiration=timedelta(days=30))
#: The request's own input files (a user mask, a grouping or sample file; names such as "Column" or
#: "diamond" stamp nothing): an edited file is never served a result cached for its old content.
REQUEST_FILES = ("request.recipe.mask_file", "request.grouping", "request.sample")


def unless_snapcal_error(task, task_run, state) -> bool:
    """``retry_condition_fn``: retry a failed run unless it failed with a typed snapcal error (an
    unknown run, a missing PV, a corrupt file: bad input that a retry cannot mend)."""
    return not isinstance(state.data, SnapcalError)


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=unless_snapcal_error, cache_policy=NO_CACHE)
def resolve_run(request: CalibrationRequest, author: str | None = None) -> RunRef:
    """Check every input (run, IPTS, file header, sample, grouping, mask, author) before any event is read."""
    return pipeline.resolve_run(request, get_settings(), author=author or None)


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=unless_snapcal_error,
      cache_key_fn=stamped_key("ref.event_file"), persist_result=True, cache_expiration=timedelta(days=7))
def load_events(ref: RunRef, lite: bool) -> str:
    """Load the run's events (converted to Lite if asked) into the scratch area; returns the folder."""
    return pipeline.load_to_scratch(ref, lite=lite, settings=get_settings())


@task(cache_key_fn=stamped_key("events_path", "start_table", *REQUEST_FILES), **RECIPE_CACHE)
def setup(events_path: str, request: CalibrationRequest, work_dir: str, start_table: str | None) -> SetupRef:
    """The grouping, the start table and every group's peaks (the only step that reads the request's files)."""
    return pipeline.setup_to_files(events_path, request, Path(work_dir), start_table)


@task(cache_key_fn=stamped_key("events_path", "setup.folder", "table_in"), task_run_name="pixel-iteration-{iteration}",
      **RECIPE_CACHE)
def pixel_iteration(events_path: str, request: CalibrationRequest, setup: SetupRef, table_in: str, iteration: int,
                    previous_median: float, work_dir: str) -> PixelStep:
    """One cross-correlation iteration (the UI shows one task per iteration)."""
    return pipeline.pixel_to_files(events_path, request, setup=setup, table_in=table_in, iteration=iteration,
                                   previous_median=previous_median, work_dir=Path(work_dir))


@task(cache_key_fn=stamped_key("events_path", "setup.folder", "table_path", "last.folder"), **RECIPE_CACHE)
def focus_groups(events_path: str, request: CalibrationRequest, setup: SetupRef, table_path: str,
                 last: PixelStep | None, work_dir: str) -> FocusRef:
    """Focus every group with the pixel-calibrated constants (spectra stay in the scratch area)."""
    return pipeline.focus_to_files(events_path, request, setup=setup, table_path=table_path, last=last,
                                   work_dir=Path(work_dir))


@task(cache_key_fn=stamped_key("focus.folder"), task_run_name="fit-group-{group_id}", **RECIPE_CACHE)
def fit_group(focus: FocusRef, request: CalibrationRequest, group_id: int) -> GroupCalibration:
    """Peak fits in TOF and DIFC (+TZERO, +DIFA) of one group: groups run side by side on the task runner."""
    return pipeline.fit_group_from_files(focus, request, group_id)


@task(cache_key_fn=stamped_key("events_path", "setup.folder", "focus.folder", "last.folder"), **RECIPE_CACHE)
def finish_groups(events_path: str, request: CalibrationRequest, setup: SetupRef, focus: FocusRef,
                  group_fits: list[GroupCalibration], iterations: list[PixelIteration], last: PixelStep | None,
                  out_folder: str) -> ResultSummary:
    """Apply the group fits, compute the quality metrics and write the iteration's result folder."""
    return pipeline.finish_to_files(events_path, request, setup=setup, focus=focus, group_fits=group_fits,
                                    iterations=iterations, last=last, out_folder=Path(out_folder))


class TaskSteps(pipeline.FileSteps):
    """The file-based steps run as the tasks above, for :func:`~snapcal_core.recipe.sequence.run_steps`
    in the flow: one task per pixel iteration, the group fits side by side."""

    def initial(self) -> str:
        self.setup = setup(self.events_path, self.request, str(self.work), self.start_table)
        return self.setup.table_path

    def pixel(self, table: str, iteration: int, previous_median: float, last: PixelStep | None) -> PixelStep:
        assert self.setup is not None  # initial() ran
        return pixel_iteration(self.events_path, self.request, self.setup, table, iteration, previous_median,
                               str(self.work))

    def focus(self, table: str, last: PixelStep | None) -> FocusRef:
        assert self.setup is not None
        return focus_groups(self.events_path, self.request, self.setup, table, last, str(self.work / "focused"))

    def fit_groups(self, focus: FocusRef) -> list[GroupCalibration]:
        return fit_group.map(unmapped(focus), unmapped(self.request), focus.group_ids).result()

    def finish(self, table: str, focus: FocusRef, fits: list[GroupCalibration],
               loop: LoopRecord[PixelStep]) -> ResultSummary:
        assert self.setup is not None
        return finish_groups(self.events_path, self.request, self.setup, focus, fits, loop.iterations, loop.last,
                             str(self.work / "result"))


@task(cache_policy=NO_CACHE)
def assess(summaries: list[ResultSummary], state: DetectorState, compare_versions: list[int]) -> ReportRef:
    """Report and plots of the latest iteration, compared with earlier iterations and stored versions."""
    return build_report(summaries, state=state, home=get_settings().calibration_home, compare_versions=compare_versions)


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def save(summary: ResultSummary, state: DetectorState, author: str, comments: str, applies_to: str,
         extra_files: dict[str, str], approval: dict | None = None) -> SavedVersion:
    """Persist the approved iteration as a new version in the calibration store."""
    return pipeline.save_result(get_settings().calibration_home, summary, state=state, author=author, comments=comments,
                                applies_to=applies_to, extra_files=extra_files, approval=approval)


@task(retries=1, retry_delay_seconds=1, retry_condition_fn=unless_snapcal_error, cache_policy=NO_CACHE,
      task_run_name="recipe-{request.run_number}-{request.grouping}")
def recipe(request: CalibrationRequest, ref: RunRef, out_folder: str, numba_threads: int | None = None) -> ResultSummary:
    """The whole recipe of one resolved run and grouping (a batch item): load, pixel loop, group fits, metrics."""
    with threads.numba_threads(numba_threads):
        return run_recipe(request.run_number, sample=request.sample, grouping=request.grouping, lite=request.lite,
                          recipe=request.recipe, output=Path(out_folder), settings=get_settings(), ref=ref)
