"""Accuracy of the whole recipe against the simulator's truth (figures in docs/accuracy.md)."""

import numpy as np
import pytest

from snapcal_core.calibrant.reflections import reflections
from snapcal_core.data.load import load_run
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.recipe.calibrate import RecipeSettings
from snapcal_core.recipe.sequence import calibrate
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


def test_every_group_difc_within_30_ppm_of_truth_and_its_reported_uncertainty(diamond_run, calibrated):
    """The issue's criterion (30 ppm; docs/accuracy.md has seeds 11-14), and the reported sigma
    honest up to 10 ppm of Lite systematics: a superpixel's truth is the plain mean of its 64
    native DIFC, but each reflection weights them by its counts (the wavelength varies across the
    superpixel: up to +-20 ppm per peak), and the superpixel's own DIFC spread (+-0.3-0.4 %) gives a
    flat-topped width that the Gaussian does not describe. Focused with the true constants, group 5
    comes out -13 to -14 ppm (seeds 11, 12); native mode, the same fit: -1 to +6 ppm."""
    sim, _, truth = diamond_run
    grouping, result = calibrated
    geometric = snap_geometry(arc_deg=sim.state.arc_deg, lin_m=sim.state.lin_m, lite=True).difc_us_per_angstrom
    errors = _group_ratio_errors(result, truth, grouping, geometric)
    sigma_ppm = {gc.group_id: gc.difc_fit.difc_error / gc.difc_fit.difc * 1e6 for gc in result.group_fits}
    assert all(abs(e) < 30 and abs(e) < 3 * sigma_ppm[g] + 10 for g, e in errors.items()), (errors, sigma_ppm)


def test_group_alignment_leaves_no_trend_across_a_group(diamond_run, calibrated):
    """Without it, a group's common offset became a trend of up to +-120 ppm across the group's
    2theta range (recipe/align.py); what is left is the pixel step's own, a few ppm per degree."""
    sim, _, truth = diamond_run
    grouping, result = calibrated
    two_theta = np.degrees(snap_geometry(arc_deg=sim.state.arc_deg, lin_m=sim.state.lin_m, lite=True).two_theta_rad)
    err = _pixel_errors(result, truth, grouping) * 1e6
    slopes = {}
    for g in grouping.group_ids:
        sel = (grouping.group_of_pixel == g) & np.isfinite(err)
        slopes[int(g)] = np.polyfit(two_theta[sel] - two_theta[sel].mean(), err[sel], 1)[0]
    assert all(abs(s) < 8 for s in slopes.values()), slopes  # ppm per degree
    assert set(result.group_shifts) == set(int(g) for g in grouping.group_ids)


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


def test_pixel_error_within_one_and_a_half_times_counting_bound(diamond_run, calibrated):
    _, _, truth = diamond_run
    grouping, result = calibrated
    err = _pixel_errors(result, truth, grouping)
    bound = result.pixel.statistical_bound
    ratios = {}
    for g in grouping.group_ids:
        sel = (grouping.group_of_pixel == g) & np.isfinite(err) & np.isfinite(bound)
        ratios[int(g)] = np.std(err[sel]) / np.sqrt(np.mean(bound[sel] ** 2))
    assert all(r <= 1.5 for r in ratios.values()), ratios


def test_pull_distribution_has_unit_width(diamond_run, calibrated):
    _, _, truth = diamond_run
    grouping, result = calibrated
    pull = _pixel_errors(result, truth, grouping) / result.pixel.difc_uncertainty
    assert 0.8 <= np.nanstd(pull) <= 1.3
    per_group = {int(g): float(np.nanstd(pull[grouping.group_of_pixel == g])) for g in grouping.group_ids}
    assert all(0.8 <= s <= 1.3 for s in per_group.values()), per_group  # also in the high-angle groups


def test_injected_tzero_is_recovered_by_difc_tzero_fit(tmp_path):
    settings = get_settings(data_root=tmp_path)
    simulate_run(run_number=7002, ipts=1, sample="diamond", n_events=5_000_000, seed=12, tzero_us=15.0, settings=settings)
    events = load_run(7002, lite=True, settings=settings)
    result = calibrate(events=events, grouping=builtin_grouping("Column", lite=True), reflections=DIAMOND,
                       settings=RecipeSettings(fit_mode="difc+tzero"))
    grouping = builtin_grouping("Column", lite=True)
    for gc in result.group_fits:  # the group's TZERO: its alignment plus its final fit, in the new table
        tzero = result.table.tzero[(grouping.group_of_pixel == gc.group_id) & (result.table.use > 0)]
        assert abs(tzero.mean() - 15.0) < 3 * gc.difc_fit.tzero_error, (gc.group_id, tzero.mean(), gc.difc_fit)
        assert np.ptp(tzero) < 1.0  # one TZERO for the group (unaligned: 15 us scaled by DIFC_p / DIFC_arb, ptp ~5 us)
