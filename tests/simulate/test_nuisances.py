"""Detector nuisances of simulated runs: each present in the written file where the truth says."""

import hashlib
import json

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

import snapcal_core.simulate.run as run_module
from snapcal_core.constants import L1_M, N_NATIVE_PIXELS, N_PANELS, PIXELS_PER_PANEL
from snapcal_core.data.nexus import EventFileWriter
from snapcal_core.data.read import read_header, read_pulses, read_raw_events
from snapcal_core.data.state import state_logs
from snapcal_core.instrument.band import wavelength_band_angstrom
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.io.diffcal import read_diffcal
from snapcal_core.models import DetectorState
from snapcal_core.settings import get_settings
from snapcal_core.simulate.nuisances import (
    SOURCE_PERIOD_US,
    NuisanceFlag,
    Nuisances,
    efficiency_factor,
    frame_us,
    plan_nuisances,
    prompt_times_us,
)
from snapcal_core.simulate.run import simulate_run
from snapcal_core.simulate.truth import truth_nuisance

N = 300_000
#: Dataset-content digests of small clean runs, computed with the simulator BEFORE nuisances existed.
CLEAN_DIGESTS = {
    "single": ("bcea3c005b158a9bb29162c9c56ace040ee78ecf64dcac30b8032dea45994d94",
               "a62b792dad7a34a0b868787e2a6a73982ff0abba1638662578fce1a0b1c8c1d7"),
    "chunks": ("ca5dcd264dad18cc88a28b8a63c435ad4f87736371b5ce9863635ad2ba363a15",
               "39ed31431f222622c45f8af15a1ee32b26c2711c6cb3dbdf7a8a1f3cf7a3c7db"),
}
ROUGH_WITH_DEAD_PANEL = Nuisances(**{**Nuisances.rough().model_dump(), "dead_panels": 1})


def _digest(path) -> str:
    """SHA-256 over every dataset's name and bytes, in name order."""
    h = hashlib.sha256()
    with h5py.File(path) as f:
        names = []
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        for name in sorted(names):
            h.update(name.encode())
            h.update(np.ascontiguousarray(f[name][()]).tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def rough(tmp_path_factory):
    """The rough preset plus a dead panel, at 3.0 angstrom so that the band reaches past one source period."""
    root = tmp_path_factory.mktemp("rough")
    run = simulate_run(run_number=21, ipts=4, n_events=N, seed=2, wavelength_angstrom=3.0,
                       nuisances=ROUGH_WITH_DEAD_PANEL, settings=get_settings(data_root=root))
    return run, read_raw_events(run.raw_path, with_pulses=True), truth_nuisance(run.raw_path)


def _counts(raw) -> np.ndarray:
    return np.bincount(raw.event_id, minlength=N_NATIVE_PIXELS)


@pytest.mark.parametrize("label", ["single", "chunks"])
def test_clean_run_is_unchanged_by_the_nuisance_code(label, tmp_path, monkeypatch):
    kw = dict(n_events=20_000, seed=3)
    if label == "chunks":
        monkeypatch.setattr(run_module, "CHUNK_EVENTS", 7_000)
        kw = dict(n_events=20_000, seed=4, wavelength_angstrom=3.0)
    for i, nuisances in enumerate((None, Nuisances())):
        run = simulate_run(run_number=5, ipts=1, settings=get_settings(data_root=tmp_path / str(i)),
                           nuisances=nuisances, **kw)
        assert (_digest(run.raw_path), _digest(run.truth_path)) == CLEAN_DIGESTS[label]
        assert run.n_events == 20_000 and run.nuisance_events == {} and not run.nuisances.active
        assert read_header(run.raw_path).n_error_events == 0
        assert truth_nuisance(run.raw_path).flags.max() == 0


def test_rough_preset_is_the_issues_acceptance_run():
    r = Nuisances.rough()
    assert (r.dead_fraction, r.dead_tubes, r.dead_panels, r.hot_fraction) == (0.02, 1, 0, 0.005)
    assert r.burst_pixels > 0 and r.edge_rate > 0 and r.edge_width == 2
    assert (r.efficiency_spread, r.efficiency_gradient, r.prompt_fraction) == (0.2, 0.1, 0.01)
    assert r.error_fraction > 0 and r.unmapped_fraction > 0 and r.active
    assert not Nuisances().active
    with pytest.raises(ValueError):
        Nuisances(hot_rate_range=(0.0, 10.0))


def test_dead_pixels_tubes_and_panel_record_nothing(rough):
    run, raw, truth = rough
    dead = truth.dead
    lines = dead.reshape(-1, 256).all(axis=1).reshape(N_PANELS, 256)
    whole_panels = lines.all(axis=1)
    assert whole_panels.sum() == 1
    assert lines[~whole_panels].sum() == 1  # one dead tube outside the dead panel: ids start + ix*256 .. +255
    assert dead.sum() == PIXELS_PER_PANEL + 256 + round(0.02 * N_NATIVE_PIXELS)
    assert _counts(raw)[dead].sum() == 0
    assert run.events_per_panel[int(np.flatnonzero(whole_panels)[0])] == 0
    assert np.all(truth.efficiency[dead] == 0)


def test_hot_pixels_are_flat_in_tof_at_their_rate_without_a_pattern(rough):
    run, raw, truth = rough
    hot = truth.hot
    assert hot.sum() == round(0.005 * N_NATIVE_PIXELS)
    assert truth.hot_rate[hot].min() >= 10 and truth.hot_rate[hot].max() <= 100 and np.all(truth.hot_rate[~hot] == 0)
    counts = _counts(raw)
    expected = truth.hot_rate[hot] * N / N_NATIVE_PIXELS
    assert counts[hot].sum() / expected.sum() == pytest.approx(1.0, abs=0.03)
    residual = (counts[hot] - expected) / np.sqrt(expected)
    assert np.std(residual) == pytest.approx(1.0, abs=0.05)  # each pixel at its own rate: Poisson scatter only
    lo, hi = frame_us(l_total_m=L1_M + snap_geometry(arc_deg=run.state.arc_deg, lin_m=run.state.lin_m).l2_m,
                      band_angstrom=wavelength_band_angstrom(wavelength_angstrom=3.0))
    tof = raw.tof_us[hot[raw.event_id]]
    assert lo <= tof.min() and tof.max() <= hi
    h, _ = np.histogram(tof, bins=20, range=(lo, hi))
    assert np.abs(h / h.mean() - 1).max() < 6 * np.sqrt(1 / h.mean())  # flat: no Bragg peak, no prompt spike


def test_burst_pixels_fire_in_a_few_consecutive_pulses(rough):
    run, raw, truth = rough
    burst = np.flatnonzero(truth.burst)
    assert burst.size == 12
    pulses = read_pulses(run.raw_path)
    pulse = np.full(raw.event_id.size, -1, np.int64)
    for bank in pulses:
        pulse[bank.first_event:bank.first_event + bank.n_events] = bank.pulse_of_event()
        assert bank.events_per_pulse().sum() == bank.n_events
    assert np.all(pulse >= 0)
    n_pulses = pulses[0].time_zero_s.size
    for b in burst:
        p = pulse[raw.event_id == b]
        per_pulse = np.bincount(p, minlength=n_pulses)
        window = np.convolve(per_pulse, np.ones(3, int), mode="valid")  # 3 consecutive pulses (burst_pulses)
        assert p.size > 100 and window.max() >= 0.95 * p.size
    # every other pixel is spread over the run: its busiest 3 pulses hold a small share of the bank's
    normal = pulse[~truth.burst[raw.event_id]]
    share = np.convolve(np.bincount(normal, minlength=n_pulses), np.ones(3), mode="valid").max() / normal.size
    assert share < 10 * 3 / n_pulses


def test_noisy_edges_carry_extra_flat_counts(rough):
    run, raw, truth = rough
    counts = _counts(raw).reshape(N_PANELS, 256, 256).astype(float)
    ok = (~truth.dead & ~truth.hot & ~truth.burst).reshape(N_PANELS, 256, 256)
    ix, iy = np.indices((256, 256))
    ring = np.minimum.reduce([ix, iy, 255 - ix, 255 - iy])  # distance from the panel's edge, in pixels
    edge = ok & (ring < 2)
    inner = ok & ((ring == 2) | (ring == 3))
    assert np.array_equal(edge.ravel(), truth.noisy_edge & ok.ravel())
    excess = counts[edge].mean() - counts[inner].mean()
    assert excess == pytest.approx(2.0 * N / N_NATIVE_PIXELS, rel=0.06)


def test_efficiency_spreads_20_percent_and_shapes_the_counts(tmp_path):
    settings = Nuisances(efficiency_spread=0.2, efficiency_gradient=0.1)
    clean = simulate_run(run_number=3, ipts=1, n_events=N, seed=8, settings=get_settings(data_root=tmp_path / "c"))
    run = simulate_run(run_number=3, ipts=1, n_events=N, seed=8, nuisances=settings,
                       settings=get_settings(data_root=tmp_path / "e"))
    eff = truth_nuisance(run.raw_path).efficiency.astype(float)
    assert np.std(eff) == pytest.approx(0.2, abs=0.015) and np.mean(eff) == pytest.approx(1.0, abs=0.01)
    assert np.array_equal(eff, efficiency_factor(settings, seed=8).astype(np.float32))
    spread = efficiency_factor(Nuisances(efficiency_spread=0.2), seed=8)
    assert np.std(np.log(spread)) == pytest.approx(0.2, abs=0.002) and np.std(spread) == pytest.approx(0.2, abs=0.005)
    smooth = efficiency_factor(Nuisances(efficiency_gradient=0.1), seed=8).reshape(N_PANELS, 256, 256)
    swing = np.abs(smooth - 1).max(axis=(1, 2))
    assert np.all(swing <= 0.1 + 1e-12) and np.all(swing > 0.03)  # within +-10 %, and there on every panel
    assert np.abs(np.diff(smooth, axis=1)).max() < 0.1 * 4 / 255  # slow: under 0.2 % from pixel to pixel
    a = _counts(read_raw_events(clean.raw_path)).astype(float)
    b = _counts(read_raw_events(run.raw_path)).astype(float)
    decile = np.digitize(eff, np.quantile(eff, np.linspace(0, 1, 11)[1:-1]))
    ratio = np.bincount(decile, b) / np.bincount(decile, a)
    mean_eff = np.bincount(decile, eff * a) / np.bincount(decile, a)
    assert ratio[-1] / ratio[0] == pytest.approx(mean_eff[-1] / mean_eff[0], rel=0.06)
    assert run.n_events == clean.n_events == N


def test_prompt_spike_sits_at_the_source_period(rough):
    run, raw, truth = rough
    t = raw.tof_us.astype(float)
    near = np.abs(t - SOURCE_PERIOD_US) < 25
    side = (np.abs(t - SOURCE_PERIOD_US) >= 50) & (np.abs(t - SOURCE_PERIOD_US) < 150)
    spike = near.sum() - side.sum() * 50 / 200  # minus the smooth events under it
    assert spike == pytest.approx(0.01 * N, rel=0.1)
    assert spike == pytest.approx(run.nuisance_events["prompt"], rel=0.1)
    assert np.median(t[near]) == pytest.approx(SOURCE_PERIOD_US, abs=1.0)
    assert not np.any(truth.dead[raw.event_id[near]])


def test_no_prompt_pulse_where_the_band_ends_before_one_period():
    l_total = L1_M + snap_geometry(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043)).l2_m
    reference = frame_us(l_total_m=l_total, band_angstrom=wavelength_band_angstrom(wavelength_angstrom=2.1))
    assert reference[1] < SOURCE_PERIOD_US and prompt_times_us(frame_us=reference).size == 0
    long = frame_us(l_total_m=l_total, band_angstrom=wavelength_band_angstrom(wavelength_angstrom=3.0))
    assert prompt_times_us(frame_us=long) == pytest.approx([1e6 / 60])
    assert prompt_times_us(frame_us=(100.0, 40_000.0)) == pytest.approx([1e6 / 60, 2e6 / 60])


def test_error_and_unmapped_groups_are_counted_by_read_header(rough):
    run, raw, _ = rough
    header = read_header(run.raw_path)
    assert header.n_error_events == run.nuisance_events["bank_error_events"] == round(2e-4 * N)
    assert header.n_unmapped_events == run.nuisance_events["bank_unmapped_events"] == round(1e-3 * N)
    assert "bank_error_events" not in header.bank_names and header.n_events == run.n_events == raw.event_id.size
    assert raw.event_id.max() < N_NATIVE_PIXELS


def test_truth_columns_and_the_lite_rule(rough):
    run, _, truth = rough
    extra = read_diffcal(run.truth_path).extra
    assert extra["nuisance"].dtype == np.uint8 and extra["efficiency"].dtype == np.float32
    assert np.array_equal(extra["nuisance"], truth.flags)
    lite = truth_nuisance(run.raw_path, lite=True)
    assert lite.lite and lite.flags.size == 18432
    dead_panel = int(np.flatnonzero(truth.dead.reshape(N_PANELS, -1).all(axis=1))[0])
    assert np.flatnonzero(lite.dead).tolist() == list(range(dead_panel * 1024, dead_panel * 1024 + 1024))
    from snapcal_core.instrument.lite import lite_map

    mapping = lite_map()
    assert np.array_equal(np.flatnonzero(lite.hot), np.unique(mapping[truth.hot]))
    assert np.array_equal(np.flatnonzero(lite.burst), np.unique(mapping[truth.burst]))
    edge_lite = np.zeros((32, 32), bool)
    edge_lite[[0, -1], :] = edge_lite[:, [0, -1]] = True
    expected = np.tile(edge_lite.ravel(), N_PANELS)
    expected[dead_panel * 1024:(dead_panel + 1) * 1024] = False
    assert np.array_equal(lite.noisy_edge, expected)
    # a dead tube lowers its superpixels' efficiency, it does not kill them
    tube = truth.dead.reshape(-1, 256).all(axis=1) & ~np.repeat(truth.dead.reshape(N_PANELS, -1).all(axis=1), 256)
    tube_lite = np.unique(mapping[np.repeat(tube, 256)])
    assert tube_lite.size == 32 and not lite.dead[tube_lite].any()
    assert 0.75 < lite.efficiency[tube_lite].mean() < 0.95  # 7/8 of a superpixel's natives left


def test_same_seed_same_rough_run_and_nuisances_do_not_move_each_other(tmp_path):
    small = Nuisances(**{**Nuisances.rough().model_dump(), "burst_pixels": 3})
    runs = [simulate_run(run_number=6, ipts=1, n_events=40_000, seed=s, nuisances=small, wavelength_angstrom=3.0,
                         settings=get_settings(data_root=tmp_path / str(i))) for i, s in enumerate((9, 9, 10))]
    a, b, c = (read_raw_events(r.raw_path, with_pulses=True) for r in runs)
    assert np.array_equal(a.event_id, b.event_id) and np.array_equal(a.tof_us, b.tof_us)
    assert all(np.array_equal(p.event_index, q.event_index) for p, q in zip(a.pulses, b.pulses))
    assert _digest(runs[0].truth_path) == _digest(runs[1].truth_path) != _digest(runs[2].truth_path)
    kw = dict(seed=9, n_events=40_000, n_pulses=60, l_total_m=np.full(N_NATIVE_PIXELS, 15.5),
              band_angstrom=(1.55, 4.5))
    dead_only = plan_nuisances(Nuisances(dead_fraction=0.02), **kw)
    both = plan_nuisances(Nuisances(dead_fraction=0.02, hot_fraction=0.01, edge_rate=1.0), **kw)
    dead_bit = np.uint8(NuisanceFlag.DEAD)
    assert np.array_equal(dead_only.flags & dead_bit, both.flags & dead_bit)


def test_writer_takes_explicit_pulses_and_extra_event_groups(tmp_path):
    path = tmp_path / "SNAP_1.nxs.h5"
    state = DetectorState(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), wavelength_angstrom=2.1, frequency_hz=60,
                          guide=1)
    meta = dict(run_number=1, title="t", start_time="2026-01-01T00:00:00+00:00", duration_s=0.1,
                proton_charge=1.0, das_logs=state_logs(state), compression=None)
    with EventFileWriter(path, explicit_pulses=True, **meta) as w:
        assert w.n_pulses == 6
        w.append(np.array([0, 65536, 1]), np.ones(3), pulse=np.array([0, 2, 4]))
        w.append(np.array([2, 3]), np.ones(2), pulse=np.array([4, 5]))
        with pytest.raises(ValueError, match="backwards"):
            w.append(np.array([4]), np.ones(1), pulse=np.array([1]))
        with pytest.raises(ValueError, match="needs a pulse"):
            w.append(np.array([4]), np.ones(1))
        w.add_event_group("bank_error_events", np.array([1 << 31, 5], np.uint32), np.ones(2))
    by_bank = {p.bank: p.events_per_pulse().tolist() for p in read_pulses(path)}
    assert by_bank["bank11_events"] == [1, 0, 0, 0, 2, 1] and by_bank["bank12_events"] == [0, 0, 1, 0, 0, 0]
    assert read_header(path).n_error_events == 2
    with EventFileWriter(tmp_path / "SNAP_2.nxs.h5", **meta) as w:
        with pytest.raises(ValueError, match="spreads events evenly"):
            w.append(np.array([0]), np.ones(1), pulse=np.array([0]))


def test_simulate_cli_rough_and_single_knobs(settings_env):
    from cli import _register_all, app

    _register_all()
    result = CliRunner().invoke(app, ["simulate", "--run", "8", "--ipts", "2", "--events", "30000", "--rough",
                                      "--wavelength", "3.0", "--hot-fraction", "0.001", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["nuisances"]["hot_fraction"] == 0.001 and out["nuisances"]["dead_fraction"] == 0.02
    assert out["nuisance_events"]["prompt"] > 0
    result = CliRunner().invoke(app, ["simulate", "--run", "9", "--ipts", "2", "--events", "30000",
                                      "--dead-fraction", "0.1", "--prompt-fraction", "0.05"])
    assert result.exit_code == 0, result.output
    flags = truth_nuisance(settings_env / "data_root" / "SNAP" / "IPTS-2" / "nexus" / "SNAP_9.nxs.h5").flags
    assert np.count_nonzero(flags) == round(0.1 * N_NATIVE_PIXELS) and flags.max() == NuisanceFlag.DEAD
    bad = CliRunner().invoke(app, ["simulate", "--run", "10", "--ipts", "2", "--dead-fraction", "2"])
    assert bad.exit_code != 0
