"""The recipe's steps as pure functions of typed inputs (the providers of the one sequence in
:mod:`snapcal_core.recipe.sequence`): set up, one pixel iteration, focus, fit one group, finish.

Every step takes what it needs explicitly and returns a typed value, so the in-memory recipe
(``snapcal recipe``, the batch flow) and the file-based steps of the interactive flow
(:mod:`snapcal_core.pipeline`) run the same code on the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.calibrant.types import GroupPeakList
from snapcal_core.instrument.types import Grouping, GroupParameters
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.models import EventData
from snapcal_core.recipe.calibrate import (
    GroupStep,
    RecipeSettings,
    geometric_table,
    groups_and_peaks,
    scale_uncertainties,
)
from snapcal_core.recipe.focus import counts_per_pixel
from snapcal_core.recipe.group import GroupCalibration, calibrate_group
from snapcal_core.recipe.held_out import HeldOutTables, half_iterations, held_out_tables, wants_held_out
from snapcal_core.recipe.pixel import (
    PixelCalibrationResult,
    PixelIteration,
    SortedEvents,
    finish_loop,
    run_iteration,
    start_loop,
)
from snapcal_core.recipe.user_mask import masked_table, user_mask


@dataclass
class Setup:
    """What every later step of one recipe run shares: the grouping, the start table and each group's peaks."""

    grouping: Grouping = field(repr=False)
    sample: str  # the calibrant's name
    initial: DiffCalTable = field(repr=False)
    groups: list[GroupParameters]
    peaks: list[GroupPeakList]
    input_reason: np.ndarray | None = field(default=None, repr=False)  # MaskReason of the start table's masked pixels


def setup_step(*, events: EventData, grouping: Grouping, sample: str, reflections: Sequence[Reflection],
               settings: RecipeSettings, table: DiffCalTable | None = None,
               input_reason: np.ndarray | None = None) -> Setup:
    """The start table (``table``, e.g. a previous iteration's, or the geometry), the user's mask
    applied and the group column taken from ``grouping`` (the one source of group membership),
    and each group's parameters and predicted peaks."""
    if grouping.lite != events.lite:
        raise ValueError(f"grouping '{grouping.name}' is {'Lite' if grouping.lite else 'native'}, events are not")
    mask = user_mask(mask_file=settings.mask_file, grouping=grouping)
    start = masked_table(table if table is not None else geometric_table(events, grouping), mask)
    initial = DiffCalTable(detid=start.detid, difc=start.difc, difa=start.difa, tzero=start.tzero,
                           group=grouping.group_of_pixel, use=start.use, instrument_name=start.instrument_name)
    groups, peaks = groups_and_peaks(events=events, grouping=grouping, reflections=reflections, settings=settings,
                                     mask=mask)
    return Setup(grouping=grouping, sample=sample, initial=initial, groups=groups, peaks=peaks,
                 input_reason=input_reason)


@dataclass
class PixelOutcome:
    """One pixel iteration's outcome; on the last one (``done``) the finished pixel result (mask
    reasons, split-half uncertainties) and the held-out tables the group step focuses with (if any)."""

    table: DiffCalTable = field(repr=False)
    stats: PixelIteration
    faulty: np.ndarray = field(repr=False)  # MaskReason found before the first correlation (carried on)
    done: bool
    stop_reason: str
    converged: bool
    pixel: PixelCalibrationResult = field(repr=False)
    held_out: HeldOutTables | None = field(default=None, repr=False)


def pixel_step(*, events: EventData, setup: Setup, settings: RecipeSettings, table: DiffCalTable, iteration: int,
               previous_median: float, faulty: np.ndarray | None, sorted_events: SortedEvents | None = None,
               ) -> PixelOutcome:
    """:func:`iterate_pixels`, and on the last iteration :func:`finish_pixels`."""
    out = iterate_pixels(events=events, setup=setup, settings=settings, table=table, iteration=iteration,
                         previous_median=previous_median, faulty=faulty, sorted_events=sorted_events)
    return finish_pixels(events=events, setup=setup, settings=settings, outcome=out) if out.done else out


def iterate_pixels(*, events: EventData, setup: Setup, settings: RecipeSettings, table: DiffCalTable,
                   iteration: int, previous_median: float, faulty: np.ndarray | None,
                   sorted_events: SortedEvents | None = None) -> PixelOutcome:
    """Iteration ``iteration`` of the cross-correlation loop (recipe/pixel.py) from ``table``, the
    pixels found ``faulty`` in the first one carried on; the last one (the loop's rule:
    :func:`~snapcal_core.recipe.pixel.run_iteration`) masks the unconverged pixels and gives
    every masked pixel its reason (:func:`~snapcal_core.recipe.pixel.finish_loop`)."""
    g = setup.grouping
    loop = start_loop(pixel=events.pixel, tof_us=events.tof_us, group_of_pixel=g.group_of_pixel, peaks=setup.peaks,
                      table=table, settings=settings.pixel, input_use=setup.initial.use,
                      known_reason=None if events.lite else events.native_mask_reason,
                      input_reason=setup.input_reason, sorted_events=sorted_events)
    loop.faulty, loop.previous_median = faulty, previous_median
    stats = run_iteration(loop, iteration)
    result = finish_loop(loop) if loop.done else loop.result
    out = DiffCalTable(detid=table.detid, difc=result.difc, difa=table.difa, tzero=table.tzero, group=table.group,
                       use=result.use, instrument_name=table.instrument_name)
    assert loop.faulty is not None  # screened in the first iteration, carried since
    return PixelOutcome(table=out, stats=stats, faulty=loop.faulty, done=loop.done, stop_reason=result.stop_reason,
                        converged=result.converged, pixel=result)


def finish_pixels(*, events: EventData, setup: Setup, settings: RecipeSettings, outcome: PixelOutcome,
                  sorted_events: SortedEvents | None = None) -> PixelOutcome:
    """After the loop: one iteration on each half of the events from the converged table gives the
    split-half factors of the uncertainties (recipe/pixel_scale.py) and, for sparse pixels, the
    held-out tables of the group step (recipe/held_out.py). ``sorted_events``: the loop's events
    grouped by pixel, whose halves the two iterations use (sorted here if not given)."""
    g, current = setup.grouping, outcome.table
    halves = half_iterations(pixel=events.pixel, tof_us=events.tof_us, group_of_pixel=g.group_of_pixel,
                             peaks=setup.peaks, table=current, settings=settings.pixel, sorted_events=sorted_events)
    scale_uncertainties(outcome.pixel, halves=halves, grouping=g)
    counts = counts_per_pixel(events.pixel, g.n_pixels)
    if wants_held_out(counts_per_pixel=counts, group_of_pixel=g.group_of_pixel, settings=settings.pixel):
        outcome.held_out = held_out_tables(halves=halves, group_of_pixel=g.group_of_pixel, table=current)
    return outcome


def fit_group(*, step: GroupStep, group_id: int, settings: RecipeSettings) -> GroupCalibration:
    """Peak fits in TOF and the constants of one group (independent of the others)."""
    plist = next(p for p in step.peak_lists if p.group_id == group_id)
    return calibrate_group(focused=step.focused, plist=plist, difc_arb=step.difc_arb[group_id],
                           difc_tail=step.difc_tail.get(group_id), mixtures=step.mixtures.get(group_id),
                           mode=settings.fit_mode, settings=settings.peak_fit)
