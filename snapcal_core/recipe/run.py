"""Run the recipe for a run number: load, calibrate, write the result folder (no Prefect)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.data.load import load_run
from snapcal_core.instrument.groupings import load_grouping
from snapcal_core.models import EventData
from snapcal_core.recipe.calibrate import RecipeSettings, calibrate
from snapcal_core.recipe.pixel import PixelIteration
from snapcal_core.recipe.result_io import ResultSummary, write_result
from snapcal_core.settings import SnapcalSettings, get_settings


def default_output(settings: SnapcalSettings, *, run_number: int, lite: bool) -> Path:
    return Path(settings.scratch_dir) / f"run_{run_number:06d}" / f"recipe_{'lite' if lite else 'native'}_{int(time.time())}"


def run_recipe(
    run_number: int, *, sample: str, grouping: str, lite: bool = True, recipe: RecipeSettings = RecipeSettings(),
    output: Path | None = None, settings: SnapcalSettings | None = None,
    on_iteration: Callable[[PixelIteration], None] | None = None, on_loaded: Callable[[EventData], None] | None = None,
) -> ResultSummary:
    """Calibrate a run end to end and write the result folder; returns its summary. ``on_loaded`` and
    ``on_iteration`` are told when the events are loaded and after each pixel iteration (progress)."""
    settings = settings or get_settings()
    calibrant = load_sample(sample, settings)
    events = load_run(run_number, lite=lite, settings=settings)
    if on_loaded is not None:
        on_loaded(events)
    group = load_grouping(grouping, lite=lite)
    result = calibrate(events=events, grouping=group, reflections=calibrant_reflections(calibrant), settings=recipe,
                       on_iteration=on_iteration)
    folder = output or default_output(settings, run_number=events.metadata.run_number, lite=lite)
    return write_result(result, folder, native_mask_reason=events.native_mask_reason,
                        run_number=events.metadata.run_number, sample=calibrant.name,
                        grouping=group.name, lite=lite, state_id=events.metadata.state.state_id(), settings=recipe)
