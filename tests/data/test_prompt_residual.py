"""Acceptance of the prompt-pulse removal on the focused spectra (benchmarks/prompt_pulse.py holds
the method): a rough run at 3.0 A (band past the first pulse time), focused into Column, shows the
spike as a peak when it is kept and none (below 2 sigma; the removed window leaves a hole) when removed."""

from __future__ import annotations

import pytest

from benchmarks.prompt_pulse import focused_column, prompt_residual_sigma, simulate_rough


@pytest.mark.slow
def test_the_removed_prompt_pulse_leaves_no_peak_in_the_focused_spectra(tmp_path):
    sim = simulate_rough(events=3e6, seed=11, wavelength_angstrom=3.0, data_root=str(tmp_path))
    kept = prompt_residual_sigma(*focused_column(sim.raw_path, remove=False))
    removed = prompt_residual_sigma(*focused_column(sim.raw_path, remove=True))
    for g in (1, 2, 3, 4):  # groups 5-6: the spike's d runs into the band edge
        assert kept[g] > 10.0, (g, kept)
        assert removed[g] < 2.0, (g, removed)
