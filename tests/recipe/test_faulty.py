"""Faulty-pixel screening on SNAP-layout pixels with known dead, hot and noisy ones."""

from __future__ import annotations

import numpy as np
import pytest

from snapcal_core.constants import LITE_PIXELS_PER_PANEL, N_LITE_PIXELS
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.recipe.faulty import FaultySettings, MaskReason, faulty_pixels, mask_summary

GROUPS = builtin_grouping("Column", lite=True).group_of_pixel


def lite_run(seed: int, *, mean: float = 1000.0, share: float = 0.6):
    """Counts with a smooth variation across each panel and a 20 % log-normal efficiency spread;
    ``share`` of each pixel's counts fall in the peak windows."""
    rng = np.random.default_rng(seed)
    ix = np.tile(np.repeat(np.arange(32), 32), 18)
    smooth = 1 + 0.1 * np.cos(ix / 32 * np.pi)
    rate = mean * smooth * rng.lognormal(0.0, 0.2, N_LITE_PIXELS)
    counts = rng.poisson(rate)
    window = rng.binomial(counts, share)
    return rng, counts, window


def test_a_clean_run_has_no_faulty_pixel():
    for seed in range(4):
        _, counts, window = lite_run(seed)
        assert np.count_nonzero(faulty_pixels(counts=counts, window_counts=window, group_of_pixel=GROUPS)) == 0


def test_dead_hot_and_noisy_pixels_are_found_with_their_reason():
    rng, counts, window = lite_run(7)
    dead, hot, noisy = np.array([5, 700, 9000]), np.array([100, 5000]), np.array([12000, 15000])
    counts[dead], window[dead] = 0, 0
    counts[hot] *= 20
    window[hot] = rng.binomial(counts[hot], 0.6 / 20)  # flat extra counts: the share in the windows drops
    extra = rng.poisson(0.5 * counts[noisy])  # +50 % flat background
    counts[noisy] += extra
    reason = faulty_pixels(counts=counts, window_counts=window, group_of_pixel=GROUPS)
    assert np.all(reason[dead] == MaskReason.DEAD) and np.all(reason[hot] == MaskReason.HOT)
    assert np.all(reason[noisy] == MaskReason.NOISY)
    assert np.count_nonzero(reason) == dead.size + hot.size + noisy.size


def test_a_dead_panel_and_a_dead_tube_are_found():
    _, counts, window = lite_run(8)
    panel = slice(4 * LITE_PIXELS_PER_PANEL, 5 * LITE_PIXELS_PER_PANEL)
    counts[panel], window[panel] = 0, 0
    tube = 10 * LITE_PIXELS_PER_PANEL + 5 * 32 + np.arange(32)  # one line of a panel
    counts[tube], window[tube] = 0, 0
    reason = faulty_pixels(counts=counts, window_counts=window, group_of_pixel=GROUPS)
    assert np.all(reason[panel] == MaskReason.DEAD) and np.all(reason[tube] == MaskReason.DEAD)
    assert np.count_nonzero(reason) == LITE_PIXELS_PER_PANEL + 32


def test_pixels_outside_groups_and_disabled_screening_flag_nothing():
    _, counts, window = lite_run(9)
    counts[:10] = 0
    groups = GROUPS.copy()
    groups[:10] = 0
    assert np.count_nonzero(faulty_pixels(counts=counts, window_counts=window, group_of_pixel=groups)) == 0
    off = FaultySettings(detect=False)
    assert np.count_nonzero(faulty_pixels(counts=counts, window_counts=window, group_of_pixel=GROUPS,
                                          settings=off)) == 0


def test_mask_summary_counts_per_group_and_reason():
    reason = np.zeros(N_LITE_PIXELS, np.uint8)
    reason[[0, 1]] = MaskReason.DEAD
    reason[N_LITE_PIXELS - 1] = MaskReason.HOT
    summary = {s.group_id: s for s in mask_summary(reason=reason, group_of_pixel=GROUPS)}
    assert summary[1].by_reason == {"dead": 2} and summary[1].n_masked == 2
    assert summary[4].by_reason == {"hot": 1}
    assert summary[2].n_masked == 0 and summary[1].fraction == pytest.approx(2 / 3072)
