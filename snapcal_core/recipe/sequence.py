"""The one place where the recipe's steps are sequenced: set up, the pixel loop (one step per
iteration until it stops), the group step (focus, then every group's fit), finish.

:func:`run_steps` drives any :class:`RecipeSteps`: :class:`MemorySteps` runs the steps of
:mod:`snapcal_core.recipe.steps` on events in memory (``snapcal recipe``, the batch flow,
:func:`calibrate`); the interactive flow passes steps that call its Prefect tasks, which run the
file-based wrappers of the same steps (:mod:`snapcal_core.pipeline`). The handles (``T`` a table,
``P`` a pixel outcome, ``F`` a focused group step) are values in memory or paths on disk.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.instrument.types import Grouping
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.models import EventData
from snapcal_core.recipe.calibrate import (
    CalibrationResult,
    GroupStep,
    RecipeSettings,
    finish_calibration,
    prepare_group_step,
)
from snapcal_core.recipe.group import GroupCalibration
from snapcal_core.recipe.pixel import PixelIteration, SortedEvents, sort_events
from snapcal_core.recipe.steps import PixelOutcome, Setup, finish_pixels, fit_group, iterate_pixels, setup_step

T = TypeVar("T")
P = TypeVar("P")
F = TypeVar("F")
R = TypeVar("R")
#: Only returned by the protocols below (covariant).
T_co = TypeVar("T_co", covariant=True)
R_co = TypeVar("R_co", covariant=True)


class PixelStepLike(Protocol[T_co]):
    """What the sequence reads of a pixel step's outcome (``PixelOutcome`` or the flow's ``PixelStep``)."""

    @property
    def table(self) -> T_co: ...
    @property
    def stats(self) -> PixelIteration: ...
    @property
    def done(self) -> bool: ...
    @property
    def stop_reason(self) -> str: ...
    @property
    def converged(self) -> bool: ...


@dataclass
class LoopRecord(Generic[P]):
    """The pixel loop as it ran: each iteration's statistics, why it stopped, its last outcome."""

    iterations: list[PixelIteration] = field(default_factory=list)
    stop_reason: str = "pixel step skipped"
    converged: bool | None = None
    last: P | None = None


class RecipeSteps(Protocol[T, P, F, R_co]):
    """The steps :func:`run_steps` sequences (each a thin call of a :mod:`~snapcal_core.recipe.steps` step)."""

    def initial(self) -> T: ...
    def pixel(self, table: T, iteration: int, previous_median: float, last: P | None) -> P: ...
    def focus(self, table: T, last: P | None) -> F: ...
    def fit_groups(self, focus: F) -> list[GroupCalibration]: ...
    def finish(self, table: T, focus: F, fits: list[GroupCalibration], loop: LoopRecord[P]) -> R_co: ...


def run_steps(steps: RecipeSteps[T, P, F, R], *, settings: RecipeSettings,
              on_iteration: Callable[[PixelIteration], None] | None = None) -> R:
    """Set up; the pixel loop unless skipped (it stops when its step says so, at the latest after
    ``max_iterations``); focus with the pixel-calibrated table; fit every group; finish."""
    table = steps.initial()
    loop: LoopRecord[P] = LoopRecord()
    if not settings.skip_pixel:
        previous = math.inf
        for iteration in range(1, settings.pixel.max_iterations + 1):
            out = steps.pixel(table, iteration, previous, loop.last)
            step: PixelStepLike[T] = out  # type: ignore[assignment]
            loop.last, table, previous = out, step.table, step.stats.median_abs_offset_bins
            loop.iterations.append(step.stats)
            if on_iteration is not None:
                on_iteration(step.stats)
            if step.done:
                loop.stop_reason, loop.converged = step.stop_reason, step.converged
                break
    focus = steps.focus(table, loop.last)
    return steps.finish(table, focus, steps.fit_groups(focus), loop)


@dataclass
class MemorySteps:
    """The steps on events in memory (the events are sorted by pixel once, for every iteration)."""

    events: EventData = field(repr=False)
    settings: RecipeSettings
    setup: Setup
    sorted_events: SortedEvents | None = field(default=None, repr=False)

    def initial(self) -> DiffCalTable:
        return self.setup.initial

    def pixel(self, table: DiffCalTable, iteration: int, previous_median: float,
              last: PixelOutcome | None) -> PixelOutcome:
        if self.sorted_events is None:
            self.sorted_events = sort_events(self.events.pixel, self.events.tof_us, self.setup.grouping.n_pixels)
        out = iterate_pixels(events=self.events, setup=self.setup, settings=self.settings, table=table,
                             iteration=iteration, previous_median=previous_median,
                             faulty=last.faulty if last is not None else None, sorted_events=self.sorted_events)
        if not out.done:
            return out
        sorted_events, self.sorted_events = self.sorted_events, None  # the loop is over: the halves use it last
        return finish_pixels(events=self.events, setup=self.setup, settings=self.settings, outcome=out,
                             sorted_events=sorted_events)

    def focus(self, table: DiffCalTable, last: PixelOutcome | None) -> GroupStep:
        s = self.setup
        return prepare_group_step(events=self.events, grouping=s.grouping, groups=s.groups, peaks=s.peaks,
                                  settings=self.settings, current=table,
                                  held=last.held_out if last is not None else None)

    def fit_groups(self, focus: GroupStep) -> list[GroupCalibration]:
        return [fit_group(step=focus, group_id=p.group_id, settings=self.settings) for p in focus.peak_lists]

    def finish(self, table: DiffCalTable, focus: GroupStep, fits: list[GroupCalibration],
               loop: LoopRecord[PixelOutcome]) -> CalibrationResult:
        pixel = loop.last.pixel if loop.last is not None else None
        if pixel is not None:
            pixel.iterations = list(loop.iterations)
        return finish_calibration(events=self.events, grouping=self.setup.grouping, step=focus, group_fits=fits,
                                  settings=self.settings, initial=self.setup.initial, pixel_result=pixel)


def calibrate(
    *, events: EventData, grouping: Grouping, reflections: Sequence[Reflection],
    settings: RecipeSettings = RecipeSettings(), table: DiffCalTable | None = None, sample: str = "",
    on_iteration: Callable[[PixelIteration], None] | None = None,
) -> CalibrationResult:
    """Pixel cross-correlation loop (unless skipped), group peak fits in TOF, DIFC per group,
    then the final focused spectra (d) with peak fits and quality metrics (all in memory)."""
    setup = setup_step(events=events, grouping=grouping, sample=sample, reflections=reflections, settings=settings,
                       table=table)
    return run_steps(MemorySteps(events=events, settings=settings, setup=setup), settings=settings,
                     on_iteration=on_iteration)
