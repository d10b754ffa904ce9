"""A Lite result keeps the native pixels screened at load, and its report shows them as a picture
of the detector (the Lite mask image cannot: a superpixel loses only some of its 64 natives)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snapcal_core.data.screen import MaskReason
from snapcal_core.pipeline import run_recipe
from snapcal_core.recipe.result_io import read_native_screen
from snapcal_core.report.build import build_report
from snapcal_core.settings import get_settings
from snapcal_core.simulate.nuisances import Nuisances
from snapcal_core.simulate.run import simulate_run
from snapcal_core.simulate.truth import truth_nuisance


@pytest.mark.slow
def test_lite_report_shows_the_natives_screened_at_load(tmp_path):
    settings = get_settings(data_root=tmp_path / "data", calibration_home=tmp_path / "home")
    sim = simulate_run(run_number=11, ipts=1, sample="diamond", n_events=8_000_000, seed=2, settings=settings,
                       nuisances=Nuisances(dead_tubes=2, hot_fraction=0.002))
    summary = run_recipe(11, sample="diamond", grouping="Column", lite=True, output=tmp_path / "result",
                         settings=settings)
    screened = read_native_screen(tmp_path / "result")
    bad = truth_nuisance(sim.raw_path).flags > 0
    assert screened is not None and screened.size == bad.size
    assert (screened[bad] > 0).mean() > 0.95 and (screened == MaskReason.DEAD).sum() >= 2 * 256 * 0.95
    report = build_report([summary], state=sim.state, home=tmp_path / "home", compare_versions=[])
    png = Path(report.plots["native_screen"])
    assert png.is_file() and png.stat().st_size > 10_000
    assert np.count_nonzero(screened[~bad]) < 0.005 * (~bad).sum()
