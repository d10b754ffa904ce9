"""Iterating from a previous iteration's table (the approval's ``start_from_previous``) keeps its
mask *and* the reasons: a dead pixel stays 'dead', not 'user' (pipeline.request_setup)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snapcal_core import pipeline
from snapcal_core.io.diffcal import read_diffcal
from snapcal_core.pipeline import CalibrationRequest
from snapcal_core.recipe.faulty import MaskReason
from snapcal_core.recipe.result_io import TABLE_FILE, read_mask_reason
from snapcal_core.recipe.sequence import run_steps
from snapcal_core.settings import get_settings
from snapcal_core.simulate.nuisances import Nuisances
from snapcal_core.simulate.run import simulate_run


def _recipe(events_path, request, work, start_table):
    """One iteration of the flow's recipe on files; its table and mask reasons (as the next iteration reads them)."""
    summary = run_steps(pipeline.FileSteps(events_path, request, work, start_table), settings=request.recipe)
    return str(Path(summary.folder) / TABLE_FILE), read_mask_reason(Path(summary.folder))


@pytest.mark.slow
def test_start_from_previous_keeps_the_mask_and_its_reasons(tmp_path):
    settings = get_settings(data_root=tmp_path / "data", scratch_dir=tmp_path / "scratch")
    simulate_run(run_number=9, ipts=1, sample="diamond", n_events=4_000_000, seed=4, settings=settings,
                 nuisances=Nuisances(dead_panels=1))
    request = CalibrationRequest(run_number=9, sample="diamond", grouping="Column", lite=True)
    events_path = pipeline.load_to_scratch(pipeline.resolve_run(request, settings), lite=True, settings=settings)
    first_table, first = _recipe(events_path, request, tmp_path / "it1", None)
    assert (first == MaskReason.DEAD).sum() >= 200  # the dead panel's superpixels (256 a panel)
    second_table, second = _recipe(events_path, request, tmp_path / "it2", first_table)
    masked_before = first > 0
    assert np.array_equal(second[masked_before], first[masked_before])  # same reasons, none turned 'user'
    assert not (second == MaskReason.USER).any()
    assert np.all(read_diffcal(second_table).use[masked_before] == 0)
