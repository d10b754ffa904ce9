import numpy as np
import pytest
from typer.testing import CliRunner

from snapcal_core.calibrant.reflections import reflections
from snapcal_core.data.load import load_run
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.io.diffcal import read_diffcal
from snapcal_core.simulate.run import SimulationExistsError, simulate_run
from snapcal_core.simulate.truth import lite_truth, read_truth

N = 300_000


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    root = tmp_path_factory.mktemp("facility")
    from snapcal_core.settings import get_settings

    settings = get_settings(data_root=root)
    run = simulate_run(run_number=11, ipts=3, sample="diamond", n_events=N, seed=5, settings=settings)
    return run, settings


def test_same_seed_same_events_other_seed_other_events(sim, tmp_path):
    from snapcal_core.settings import get_settings

    run, settings = sim
    again = simulate_run(run_number=11, ipts=3, n_events=N, seed=5, settings=get_settings(data_root=tmp_path / "a"))
    other = simulate_run(run_number=11, ipts=3, n_events=N, seed=6, settings=get_settings(data_root=tmp_path / "b"))
    a = load_run(11, lite=False, settings=settings)
    b = load_run(11, lite=False, settings=get_settings(data_root=tmp_path / "a"))
    c = load_run(11, lite=False, settings=get_settings(data_root=tmp_path / "b"))
    assert np.array_equal(a.pixel, b.pixel) and np.array_equal(a.tof_us, b.tof_us)
    assert not np.array_equal(a.tof_us[:1000], c.tof_us[:1000])
    assert again.events_per_panel == run.events_per_panel != other.events_per_panel


def test_truth_perturbations_have_the_requested_statistics(sim):
    run, _ = sim
    truth = read_diffcal(run.truth_path)
    geom = snap_geometry(arc_deg=run.state.arc_deg, lin_m=run.state.lin_m).difc_us_per_angstrom
    rel = truth.difc / geom - 1
    panel_means = rel.reshape(18, -1).mean(axis=1)
    within = rel.reshape(18, -1) - panel_means[:, None]
    assert 1e-3 < panel_means.std() < 6e-3
    assert within.std() == pytest.approx(1e-3, rel=0.02)
    lite = lite_truth(truth)
    assert lite.n_rows == 18432 and lite.difc[0] == pytest.approx(truth.difc[np.r_[0:8][:, None] * 256 + np.r_[0:8]].mean())


def test_nothing_is_overwritten_without_permission(sim):
    run, settings = sim
    with pytest.raises(SimulationExistsError, match="run 11"):
        simulate_run(run_number=11, ipts=3, n_events=10, seed=1, settings=settings)


def _d_peaks(events, difc, group_mask):
    d = events.tof_us / difc[events.pixel]
    edges = np.geomspace(0.6, 2.2, 2500)
    h, _ = np.histogram(d[group_mask[events.pixel]], bins=edges)
    return h, np.sqrt(edges[1:] * edges[:-1])


def test_peaks_sit_at_diamond_d_with_true_difc_and_shift_with_geometric(sim):
    run, settings = sim
    events = load_run(11, lite=True, settings=settings)
    truth = read_truth(run.raw_path, lite=True)
    group2 = builtin_grouping("Column", lite=True).group_of_pixel == 2
    geom = snap_geometry(arc_deg=run.state.arc_deg, lin_m=run.state.lin_m, lite=True).difc_us_per_angstrom
    for d_ref in (1.2611, 1.0754):
        h, c = _d_peaks(events, truth.difc, group2)
        win = np.abs(c / d_ref - 1) < 0.01
        centre = np.sum(h[win] * c[win]) / h[win].sum()
        smooth = np.convolve(h, np.ones(5) / 5, mode="same")
        mode = c[win][np.argmax(smooth[win])]
        # the peak starts at the reflection; the back-to-back tail (decay 1/beta_T in TOF) pulls its
        # mode at most one decay length and its mean further to larger d
        tail_d = 1.0 / ((0.02 + 0.05 / d_ref**4) * np.mean(truth.difc[group2]))
        assert d_ref - 1e-3 < mode < d_ref + tail_d
        assert centre > mode
        hg, _ = _d_peaks(events, geom, group2)
        centre_geom = np.sum(hg[win] * c[win]) / hg[win].sum()
        shift = np.mean((truth.difc / geom)[group2])
        assert centre_geom / centre == pytest.approx(shift, rel=5e-4)


def test_events_lie_in_their_pixel_band_and_tzero_shifts_tof(sim, tmp_path):
    from snapcal_core.settings import get_settings

    run, settings = sim
    s2 = get_settings(data_root=tmp_path)
    simulate_run(run_number=11, ipts=3, n_events=N, seed=5, tzero_us=25.0, settings=s2)
    a = load_run(11, lite=False, settings=settings)
    b = load_run(11, lite=False, settings=s2)
    assert a.n_events > 0.99 * N
    n = min(a.n_events, b.n_events)
    same = a.pixel[:n] == b.pixel[:n]
    assert np.median(b.tof_us[:n][same] - a.tof_us[:n][same]) == pytest.approx(25.0, abs=0.5)


def test_reflections_merge_coincident_families():
    d = [r.d_angstrom for r in reflections("stdlib::C_sg227_Diamond.ncmat")]
    assert len(d) == len(set(np.round(d, 8)))
    assert d[0] == pytest.approx(2.0593, abs=2e-4)


@pytest.mark.slow
def test_simulate_cli_end_to_end(settings_env):
    from cli import _register_all, app

    _register_all()
    result = CliRunner().invoke(app, ["simulate", "--run", "4", "--ipts", "2", "--sample", "silicon",
                                      "--events", "2000000", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "04bd2c53f6bf6754" in result.output
    result = CliRunner().invoke(app, ["inspect", "4", "--lite", "--json"])
    assert result.exit_code == 0, result.output
    assert '"state_id": "04bd2c53f6bf6754"' in result.output
