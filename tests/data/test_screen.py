"""Native pixels screened by their counts at load: dead, hot and noisy ones found, their events dropped."""

from __future__ import annotations

import numpy as np
import pytest

from snapcal_core.constants import N_NATIVE_PIXELS, PIXELS_PER_PANEL
from snapcal_core.data.load import load_event_file
from snapcal_core.data.nexus import EventFileWriter
from snapcal_core.data.screen import MaskReason, ScreenSettings, expected_counts, screen_native
from snapcal_core.data.state import state_logs
from tests.data.conftest import REFERENCE_STATE


def native_run(seed: int, mean: float = 20.0) -> tuple[np.random.Generator, np.ndarray]:
    """Counts of every native pixel: a smooth variation across each panel and a 20 % efficiency spread."""
    rng = np.random.default_rng(seed)
    ix = np.tile(np.repeat(np.arange(256), 256), 18)
    rate = mean * (1 + 0.1 * np.cos(ix / 256 * np.pi)) * rng.lognormal(-0.02, 0.2, N_NATIVE_PIXELS)
    return rng, rng.poisson(rate)


def test_a_clean_run_masks_almost_nothing():
    _, counts = native_run(1)
    reason = screen_native(counts)
    assert np.count_nonzero(reason) < 2e-3 * N_NATIVE_PIXELS  # the 20 % efficiency tails (issue bound: 0.5 %)


def test_dead_pixels_a_dead_tube_hot_pixels_and_a_noisy_edge_are_found():
    rng, counts = native_run(2)
    dead = rng.choice(N_NATIVE_PIXELS, 2000, replace=False)
    counts[dead] = 0
    tube = 5 * PIXELS_PER_PANEL + 100 * 256 + np.arange(256)  # one line of panel 5
    counts[tube] = 0
    hot = rng.choice(np.setdiff1d(np.arange(N_NATIVE_PIXELS), np.concatenate([dead, tube])), 500, replace=False)
    counts[hot] += rng.poisson(20.0 * rng.uniform(10, 100, hot.size))
    edge = 7 * PIXELS_PER_PANEL + np.arange(2 * 256)  # the two outer lines of panel 7
    counts[edge] += rng.poisson(40.0, edge.size)
    reason = screen_native(counts)
    assert np.mean(reason[dead] == MaskReason.DEAD) > 0.99 and np.all(reason[tube] == MaskReason.DEAD)
    assert np.all(reason[hot] == MaskReason.HOT)
    assert np.mean(reason[edge] == MaskReason.NOISY) > 0.95
    good = np.ones(N_NATIVE_PIXELS, bool)
    good[np.concatenate([dead, tube, hot, edge])] = False
    assert np.count_nonzero(reason[good]) < 5e-3 * good.sum()


def test_edges_take_their_expectation_from_inside_the_panel():
    _, counts = native_run(3)
    counts[: 2 * 256] += 40  # a noisy outer edge of panel 0
    mu = expected_counts(counts, size=9).reshape(18, 256, 256)
    assert mu[0, 0].mean() == pytest.approx(mu[0, 10].mean(), rel=0.1)


def test_sparse_runs_and_disabled_screening_mask_nothing():
    _, counts = native_run(4, mean=2.0)
    assert np.count_nonzero(screen_native(counts)) == 0  # median below 5 events: no screening
    _, counts = native_run(5)
    counts[:1000] = 0
    assert np.count_nonzero(screen_native(counts, ScreenSettings(screen=False))) == 0


def test_load_drops_the_events_of_a_screened_pixel_and_records_why(tmp_path):
    rng = np.random.default_rng(6)
    ids = rng.integers(0, N_NATIVE_PIXELS, 8_000_000).astype(np.uint32)  # ~7 a pixel: enough to screen
    ids = np.concatenate([ids, np.full(400, 12345, np.uint32)])
    tof = rng.uniform(5000, 12000, ids.size).astype(np.float32)
    path = tmp_path / "SNAP_7.nxs.h5"
    with EventFileWriter(path, run_number=7, title="t", start_time="2026-01-01T00:00:00", duration_s=1.0,
                         proton_charge=1.0, das_logs=state_logs(REFERENCE_STATE), compression=None) as w:
        w.append(ids, tof)
    events = load_event_file(path, lite_requested=True)
    assert events.native_mask_reason[12345] == MaskReason.HOT
    assert events.metadata.screened_native_pixels["hot"] >= 1 and events.metadata.n_screened_events >= 400
    unscreened = load_event_file(path, lite_requested=True, screen=ScreenSettings(screen=False))
    assert unscreened.native_mask_reason is None
    assert unscreened.n_events - events.n_events >= 400
