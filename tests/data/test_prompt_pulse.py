"""The prompt pulse is removed at load as Mantid's RemovePromptPulse removes it (SNAPRed's width and frequency)."""

from __future__ import annotations

import numpy as np
import pytest

from snapcal_core.data.band_kernel import crop_to_band
from snapcal_core.data.load import load_event_file, pixel_band_us
from snapcal_core.data.state import state_logs
from snapcal_core.instrument.prompt_pulse import PromptPulseSettings, prompt_pulse_times_us
from snapcal_core.models import DetectorState
from tests.data.conftest import REFERENCE_STATE, write_run

SNAPRED = PromptPulseSettings()  # width 1600 us, 60.4 Hz
PERIOD = 1e6 / 60.4


def test_pulse_times_follow_mantids_calculate_pulse_times():
    """k * period inside [tmin, tmax); the zeroth pulse only when 0 < tmin < width."""
    assert prompt_pulse_times_us(tof_min_us=2000, tof_max_us=15000, settings=SNAPRED).size == 0
    assert prompt_pulse_times_us(tof_min_us=2000, tof_max_us=40000, settings=SNAPRED) == pytest.approx(
        [PERIOD, 2 * PERIOD])
    assert prompt_pulse_times_us(tof_min_us=1000, tof_max_us=20000, settings=SNAPRED) == pytest.approx([0.0, PERIOD])
    assert prompt_pulse_times_us(tof_min_us=17000, tof_max_us=34000, settings=SNAPRED) == pytest.approx([2 * PERIOD])
    off = PromptPulseSettings(remove=False)
    assert prompt_pulse_times_us(tof_min_us=1000, tof_max_us=40000, settings=off).size == 0


def test_kernel_drops_and_counts_the_events_inside_each_pulse_window():
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 100, 200_000).astype(np.uint32)
    tof = rng.uniform(0, 40000, ids.size).astype(np.float32)
    lo, hi = np.full(100, 3000.0), np.full(100, 38000.0)
    pulses = np.array([PERIOD, 2 * PERIOD])
    in_band = (tof >= 3000) & (tof <= 38000)
    flash = in_band & (((tof >= PERIOD) & (tof <= PERIOD + 1600)) | ((tof >= 2 * PERIOD) & (tof <= 2 * PERIOD + 1600)))
    expected = tof[in_band & ~flash]
    n_kept, n_bad, n_prompt = crop_to_band(ids, tof, lo_us=lo, hi_us=hi, to_lite=False, prompt_us=pulses,
                                           prompt_width_us=1600)
    assert (n_kept, n_bad, n_prompt) == (expected.size, 0, int(flash.sum()))
    assert np.array_equal(tof[:n_kept], expected)


def test_load_removes_the_prompt_pulse_where_the_band_reaches_a_period(tmp_path):
    """At 3.0 angstrom the band runs past 16,556 us: events there are removed and counted; the
    reference state (2.1 angstrom) ends before the first period, so nothing is removed."""
    long_band = DetectorState(arc_deg=REFERENCE_STATE.arc_deg, lin_m=REFERENCE_STATE.lin_m, wavelength_angstrom=3.0,
                              frequency_hz=60.0, guide=1)
    path = write_run(tmp_path, n=200_000, seed=3, logs=state_logs(long_band), tof_range=(3000.0, 22000.0))
    events = load_event_file(path, lite_requested=False)
    assert events.metadata.n_prompt_pulse_events > 0
    assert not np.any((events.tof_us >= np.float32(PERIOD)) & (events.tof_us <= np.float32(PERIOD + 1600)))
    kept_all = load_event_file(path, lite_requested=False, prompt_pulse=PromptPulseSettings(remove=False))
    assert kept_all.n_events == events.n_events + events.metadata.n_prompt_pulse_events
    lo, hi = pixel_band_us(arc_deg=tuple(long_band.arc_deg), lin_m=tuple(long_band.lin_m), wavelength_angstrom=3.0,
                           lite=False)
    assert hi.max() > PERIOD > lo.min()  # the first pulse lies inside the band
    reference = load_event_file(write_run(tmp_path / "ref", n=20_000, seed=4), lite_requested=False)
    assert reference.metadata.n_prompt_pulse_events == 0


def test_pulses_of_kept_events_skip_the_prompt_pulse_too(tmp_path):
    long_band = DetectorState(arc_deg=REFERENCE_STATE.arc_deg, lin_m=REFERENCE_STATE.lin_m, wavelength_angstrom=3.0,
                              frequency_hz=60.0, guide=1)
    path = write_run(tmp_path, n=50_000, seed=5, logs=state_logs(long_band), tof_range=(3000.0, 22000.0))
    events = load_event_file(path, lite_requested=False, with_pulses=True)
    assert events.pulse_index.shape == events.pixel.shape
