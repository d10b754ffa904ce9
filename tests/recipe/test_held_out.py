"""Held-out focusing of the group step (sparse pixels): choice, scale matching, and the whole path."""

import numpy as np
import pytest

from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.data.load import load_run
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.pipeline import CalibrationRequest, FileSteps
from snapcal_core.recipe.calibrate import RecipeSettings
from snapcal_core.recipe.held_out import _match_group_means, wants_held_out
from snapcal_core.recipe.pixel import PixelCalibrationSettings
from snapcal_core.recipe.sequence import calibrate, run_steps
from snapcal_core.report.markdown import report_markdown
from snapcal_core.scratch import save_events
from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run


def test_auto_chooses_held_out_when_the_median_grouped_pixel_is_sparse():
    group = np.array([0, 1, 1, 2, 2])
    sparse = np.array([5000, 10, 20, 30, 40])  # events per pixel; pixel 0 is in no group: it does not count
    dense = np.array([0, 500, 600, 700, 800])
    auto = PixelCalibrationSettings(held_out_below_events=400)
    assert wants_held_out(counts_per_pixel=sparse, group_of_pixel=group, settings=auto)
    assert not wants_held_out(counts_per_pixel=dense, group_of_pixel=group, settings=auto)
    always = auto.model_copy(update={"held_out_focus": "always"})
    assert wants_held_out(counts_per_pixel=dense, group_of_pixel=group, settings=always)
    assert not wants_held_out(counts_per_pixel=sparse, group_of_pixel=group,
                              settings=auto.model_copy(update={"held_out_focus": "never"}))


def test_half_tables_are_rescaled_to_the_count_weighted_group_mean_of_their_core():
    rng = np.random.default_rng(2)
    group = np.repeat([1, 2], 500)
    target = rng.uniform(1000, 1100, 1000)
    difc = target * (1 + 40e-6 * group) * (1 + rng.uniform(-1e-3, 1e-3, 1000))  # all inside 3 robust sd
    jumped = np.zeros(1000, bool)
    jumped[[5, 17, 33, 520]] = True  # pixels that jumped to another maximum, all to one side
    difc[jumped] *= 1.02
    weights = rng.uniform(5, 50, 1000)
    use = np.ones(1000, bool)
    use[3] = False
    out = _match_group_means(difc, target, weights, group, use)
    for g in (1, 2):
        sel = use & (group == g)
        core = sel & ~jumped
        assert np.average(out[core], weights=weights[core]) == pytest.approx(
            np.average(target[core], weights=weights[core]), rel=1e-12)
        assert np.allclose(out[sel] / difc[sel], out[sel][0] / difc[sel][0])  # one factor per group
        # a plain mean would have been pulled by the jumped pixels: 4e-5 (group 1) of the scale
        assert np.average(out[sel], weights=weights[sel]) > np.average(target[sel], weights=weights[sel]) * (1 + 2e-5)
    assert out[3] == difc[3]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    settings = get_settings(data_root=tmp_path_factory.mktemp("facility"),
                            scratch_dir=tmp_path_factory.mktemp("scratch"))
    simulate_run(run_number=7101, ipts=1, sample="diamond", n_events=3_000_000, seed=5, settings=settings)
    return settings, load_run(7101, lite=True, settings=settings)


def test_held_out_group_step_agrees_with_plain_focusing_and_survives_the_task_files(small_run, tmp_path):
    settings, events = small_run
    grouping = builtin_grouping("Column", lite=True)
    diamond = calibrant_reflections(load_sample("diamond"))  # what the task functions read for sample="diamond"
    held = RecipeSettings(pixel=PixelCalibrationSettings(held_out_focus="always"))
    plain = calibrate(events=events, grouping=grouping, reflections=diamond,
                      settings=RecipeSettings(pixel=PixelCalibrationSettings(held_out_focus="never")))
    ours = calibrate(events=events, grouping=grouping, reflections=diamond, settings=held)
    for a, b in zip(plain.group_fits, ours.group_fits, strict=True):
        assert b.difc_fit.outcome.value == "accepted"
        both = np.hypot(a.difc_fit.difc_error, b.difc_fit.difc_error)
        assert abs(a.difc_fit.difc - b.difc_fit.difc) < 3 * both
    # the same recipe through the task functions (held-out tables written by the last pixel step)
    events_path = save_events(events, tmp_path / "events")
    request = CalibrationRequest(run_number=7101, sample="diamond", recipe=held)
    summary = run_steps(FileSteps(str(events_path), request, tmp_path / "work"), settings=held)
    last = sorted((tmp_path / "work").glob("pixel_*"))[-1]
    assert (last / "held_out_0.h5").exists() and (last / "held_out_1.h5").exists()
    assert [g.difc_fit.difc for g in summary.groups] == [f.difc_fit.difc for f in ours.group_fits]  # identical
    assert all(g.metrics.n_peaks_fitted >= 2 for g in summary.groups)
    assert summary.held_out_focus and ours.held_out_focus and not plain.held_out_focus
    assert "held-out constants" in report_markdown(summary, iteration=1, comparisons={})  # the approver sees it
