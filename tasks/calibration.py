"""Prefect tasks of the calibration flow: each a few lines around a ``snapcal_core`` step.

They exchange paths and small pydantic models; events and tables stay in the scratch area.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from snapcal_core import pipeline, threads
from snapcal_core.errors import SnapcalError
from snapcal_core.models import DetectorState
from snapcal_core.pipeline import CalibrationRequest, FocusRef, PixelStep, RunRef
from snapcal_core.recipe.group import GroupCalibration
from snapcal_core.recipe.pixel import PixelIteration
from snapcal_core.recipe.result_io import ResultSummary, read_table
from snapcal_core.recipe.run import run_recipe
from snapcal_core.report.build import ReportRef, build_report
from snapcal_core.settings import get_settings
from snapcal_core.storage.models import SavedVersion, SaveRequest
from snapcal_core.storage.store import save_calibration
from tasks.cache import stamped_key

#: Steps of the recipe are cached by their inputs' stamps so that a resumed (re-executed) run reuses them.
RECIPE_CACHE = dict(persist_result=True, cache_expiration=timedelta(days=30))
#: The request's own input files (a user mask, a grouping or sample file; names such as "Column" or
#: "diamond" stamp nothing): an edited file is never served a result cached for its old content.
REQUEST_FILES = ("request.recipe.mask_file", "request.grouping", "request.sample")


def unless_snapcal_error(task, task_run, state) -> bool:
    """``retry_condition_fn``: retry a failed run unless it failed with a typed snapcal error (an
    unknown run, a missing PV, a corrupt file: bad input that a retry cannot mend)."""
    return not isinstance(state.data, SnapcalError)


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=unless_snapcal_error, cache_policy=NO_CACHE)
def resolve_run(run_number: int) -> RunRef:
    """Find the run's IPTS and raw file and read its instrument state."""
    return pipeline.resolve_run(run_number, get_settings())


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=unless_snapcal_error,
      cache_key_fn=stamped_key("ref.raw_path"), persist_result=True, cache_expiration=timedelta(days=7))
def load_events(ref: RunRef, lite: bool) -> str:
    """Load the run's events (converted to Lite if asked) into the scratch area; returns the folder."""
    return pipeline.load_to_scratch(ref.run_number, lite=lite, settings=get_settings())


@task(cache_key_fn=stamped_key("events_path", "start_table", *REQUEST_FILES), **RECIPE_CACHE)
def initial_table(events_path: str, request: CalibrationRequest, work_dir: str, start_table: str | None) -> str:
    """The table the pixel loop starts from."""
    return pipeline.initial_table(events_path, request, Path(work_dir), start_table)


@task(cache_key_fn=stamped_key("events_path", "table_in", "table_initial", *REQUEST_FILES), task_run_name="pixel-iteration-{iteration}",
      **RECIPE_CACHE)
def pixel_iteration(events_path: str, request: CalibrationRequest, table_in: str, table_initial: str, iteration: int,
                    previous_median: float, work_dir: str) -> PixelStep:
    """One cross-correlation iteration (the UI shows one task per iteration)."""
    return pipeline.pixel_step(events_path, request, table_in=table_in, table_initial=table_initial,
                               iteration=iteration, previous_median=previous_median, work_dir=Path(work_dir))


@task(cache_key_fn=stamped_key("events_path", "table_path", *REQUEST_FILES), **RECIPE_CACHE)
def focus_groups(events_path: str, request: CalibrationRequest, table_path: str, work_dir: str) -> FocusRef:
    """Focus every group with the pixel-calibrated constants (spectra stay in the scratch area)."""
    return pipeline.focus_step(events_path, request, table_path=table_path, work_dir=Path(work_dir))


@task(cache_key_fn=stamped_key("focus.folder", *REQUEST_FILES), task_run_name="fit-group-{group_id}", **RECIPE_CACHE)
def fit_group(focus: FocusRef, request: CalibrationRequest, group_id: int) -> GroupCalibration:
    """Peak fits in TOF and DIFC (+TZERO, +DIFA) of one group: groups run side by side on the task runner."""
    return pipeline.fit_group_step(focus, request, group_id)


@task(cache_key_fn=stamped_key("events_path", "table_path", "focus.folder", *REQUEST_FILES), **RECIPE_CACHE)
def finish_groups(events_path: str, request: CalibrationRequest, table_path: str, focus: FocusRef,
                  group_fits: list[GroupCalibration], out_folder: str, iterations: list[PixelIteration],
                  stop_reason: str, converged: bool | None) -> ResultSummary:
    """Apply the group fits, compute the quality metrics and write the iteration's result folder."""
    return pipeline.finish_step(events_path, request, table_path=table_path, focus=focus, group_fits=group_fits,
                                out_folder=Path(out_folder), iterations=iterations, stop_reason=stop_reason,
                                converged=converged)


@task(cache_policy=NO_CACHE)
def assess(summaries: list[ResultSummary], state: DetectorState, compare_versions: list[int]) -> ReportRef:
    """Report and plots of the latest iteration, compared with earlier iterations and stored versions."""
    return build_report(summaries, state=state, home=get_settings().calibration_home, compare_versions=compare_versions)


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def save(summary: ResultSummary, state: DetectorState, author: str, comments: str, applies_to: str,
         extra_files: dict[str, str], approval: dict | None = None) -> SavedVersion:
    """Persist the approved iteration as a new version in the calibration store."""
    request = SaveRequest(
        run_number=summary.run_number, state=state, lite=summary.lite, author=author, comments=comments,
        applies_to=applies_to, calibrant=summary.sample, grouping=summary.grouping,
        calculation_parameters=summary.settings.model_dump(mode="json"),
        group_metrics=[g.metrics.model_dump(mode="json") for g in summary.groups],
        iterations=[i.model_dump(mode="json") for i in summary.iterations], approval=approval or {})
    return save_calibration(get_settings().calibration_home, request, read_table(Path(summary.folder)),
                            extra_files={k: Path(v) for k, v in extra_files.items()})


@task(retries=1, retry_delay_seconds=1, retry_condition_fn=unless_snapcal_error, cache_policy=NO_CACHE,
      task_run_name="recipe-{request.run_number}-{request.grouping}")
def recipe(request: CalibrationRequest, out_folder: str, numba_threads: int | None = None) -> ResultSummary:
    """The whole recipe of one run and grouping (a batch item): load, pixel loop, group fits, metrics."""
    with threads.numba_threads(numba_threads):
        return run_recipe(request.run_number, sample=request.sample, grouping=request.grouping, lite=request.lite,
                          recipe=request.recipe, output=Path(out_folder), settings=get_settings())
