"""Iterating from a previous iteration's table (the approval's ``start_from_previous``) keeps its
mask *and* the reasons: a dead pixel stays 'dead', not 'user' (pipeline.initial_table, pixel_step)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snapcal_core import pipeline
from snapcal_core.io.diffcal import read_diffcal
from snapcal_core.pipeline import CalibrationRequest
from snapcal_core.recipe.faulty import MaskReason
from snapcal_core.recipe.result_io import MASK_REASON_FILE
from snapcal_core.settings import get_settings
from snapcal_core.simulate.nuisances import Nuisances
from snapcal_core.simulate.run import simulate_run


def _pixel_loop(events_path, request, work, start_table):
    table_initial = pipeline.initial_table(events_path, request, work, start_table)
    table, previous = table_initial, math.inf
    for i in range(1, request.recipe.pixel.max_iterations + 1):
        step = pipeline.pixel_step(events_path, request, table_in=table, table_initial=table_initial, iteration=i,
                                   previous_median=previous, work_dir=work)
        table, previous = step.table_path, step.stats.median_abs_offset_bins
        if step.done:
            break
    return table, np.load(work / MASK_REASON_FILE)


@pytest.mark.slow
def test_start_from_previous_keeps_the_mask_and_its_reasons(tmp_path):
    settings = get_settings(data_root=tmp_path / "data", scratch_dir=tmp_path / "scratch")
    simulate_run(run_number=9, ipts=1, sample="diamond", n_events=4_000_000, seed=4, settings=settings,
                 nuisances=Nuisances(dead_panels=1))
    events_path = pipeline.load_to_scratch(9, lite=True, settings=settings)
    request = CalibrationRequest(run_number=9, sample="diamond", grouping="Column", lite=True)
    first_table, first = _pixel_loop(events_path, request, tmp_path / "it1", None)
    assert (first == MaskReason.DEAD).sum() >= 200  # the dead panel's superpixels (256 a panel)
    second_table, second = _pixel_loop(events_path, request, tmp_path / "it2", first_table)
    masked_before = first > 0
    assert np.array_equal(second[masked_before], first[masked_before])  # same reasons, none turned 'user'
    assert not (second == MaskReason.USER).any()
    assert np.all(read_diffcal(second_table).use[masked_before] == 0)
