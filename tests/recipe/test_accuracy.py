"""Accuracy of the whole recipe against the simulator's truth (figures in docs/accuracy.md)."""

import numpy as np
import pytest

from snapcal_core.calibrant.reflections import reflections
from snapcal_core.data.load import load_run
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.recipe.calibrate import RecipeSettings, calibrate
from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run
from snapcal_core.simulate.truth import read_truth

DIAMOND = reflections("stdlib::C_sg227_Diamond.ncmat")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def diamond_run(tmp_path_factory):
    settings = get_settings(data_root=tmp_path_factory.mktemp("facility"))
    sim = simulate_run(run_number=7001, ipts=1, sample="diamond", n_events=20_000_000, seed=11, settings=settings)
    events = load_run(7001, lite=True, settings=settings)
    return sim, events, read_truth(sim.raw_path, lite=True)


@pytest.fixture(scope="module")
def calibrated(diamond_run):
    _, events, _ = diamond_run
    grouping = builtin_grouping("Column", lite=True)
    return grouping, calibrate(events=events, grouping=grouping, reflections=DIAMOND)


def _group_ratio_errors(result, truth, grouping, geometric):
    out = {}
    for g in grouping.group_ids:
        sel = (grouping.group_of_pixel == g) & (result.table.use > 0)
        ours = np.mean(result.table.difc[sel] / geometric[sel])
        true = np.mean(truth.difc[sel] / geometric[sel])
        out[int(g)] = (ours / true - 1) * 1e6
    return out


def _pixel_errors(result, truth, grouping):
    err = np.full(truth.n_rows, np.nan)
    for g in grouping.group_ids:
        sel = (grouping.group_of_pixel == g) & (result.table.use > 0)
        r = result.table.difc[sel] / truth.difc[sel]
        err[sel] = r / r.mean() - 1
    return err


def test_every_group_difc_within_30_ppm_of_truth(diamond_run, calibrated):
    sim, _, truth = diamond_run
    grouping, result = calibrated
    geometric = snap_geometry(arc_deg=sim.state.arc_deg, lin_m=sim.state.lin_m, lite=True).difc_us_per_angstrom
    errors = _group_ratio_errors(result, truth, grouping, geometric)
    assert all(abs(e) < 30 for e in errors.values()), errors


def test_converges_within_five_iterations_and_keeps_statistics(calibrated):
    _, result = calibrated
    assert 1 <= len(result.iterations) <= 5
    assert result.pixel.converged
    assert result.iterations[-1].median_abs_offset_bins < 0.5 < result.iterations[0].median_abs_offset_bins


def test_skipping_the_pixel_step_leaves_five_times_larger_pixel_errors(diamond_run, calibrated):
    _, events, truth = diamond_run
    grouping, result = calibrated
    skipped = calibrate(events=events, grouping=grouping, reflections=DIAMOND, settings=RecipeSettings(skip_pixel=True))
    with_pixel = np.nanstd(_pixel_errors(result, truth, grouping))
    without = np.nanstd(_pixel_errors(skipped, truth, grouping))
    assert without > 5 * with_pixel, (without, with_pixel)


@pytest.mark.xfail(strict=True, reason="per-pixel RMS is 1.46-1.61x the counting bound (1.55x overall) at 2e7 events; see docs/accuracy.md")
def test_pixel_error_within_one_and_a_half_times_counting_bound(diamond_run, calibrated):
    _, _, truth = diamond_run
    grouping, result = calibrated
    err = _pixel_errors(result, truth, grouping)
    bound = np.sqrt(np.nanmean(result.pixel.statistical_bound[np.isfinite(result.pixel.statistical_bound)] ** 2))
    assert np.nanstd(err) <= 1.5 * bound


@pytest.mark.xfail(strict=True, reason="pull std is 1.41-1.76: errors exceed the pixel's own counting noise; see docs/accuracy.md")
def test_pull_distribution_has_unit_width(diamond_run, calibrated):
    _, _, truth = diamond_run
    grouping, result = calibrated
    pull = _pixel_errors(result, truth, grouping) / result.pixel.difc_uncertainty
    assert 0.8 <= np.nanstd(pull) <= 1.3


def test_injected_tzero_is_recovered_by_difc_tzero_fit(tmp_path):
    settings = get_settings(data_root=tmp_path)
    simulate_run(run_number=7002, ipts=1, sample="diamond", n_events=5_000_000, seed=12, tzero_us=15.0, settings=settings)
    events = load_run(7002, lite=True, settings=settings)
    result = calibrate(events=events, grouping=builtin_grouping("Column", lite=True), reflections=DIAMOND,
                       settings=RecipeSettings(fit_mode="difc+tzero"))
    for gc in result.group_fits:
        fit = gc.difc_fit
        assert abs(fit.tzero - 15.0) < 3 * fit.tzero_error, fit
