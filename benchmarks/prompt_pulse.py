"""Does the prompt pulse leave a peak in the focused spectra? Prints the figures of docs/accuracy.md.

Usage: ``.venv/bin/python benchmarks/prompt_pulse.py [--events 2e7] [--seed 11] [--wavelength 3.0]``

A rough Lite run (``Nuisances.rough()``: 1 % of the events in the prompt spike) is simulated in a
state whose band reaches past the first pulse time (3.0 angstrom: SNAP's reference 2.1 angstrom
band ends before it), loaded twice (prompt pulse kept; removed as SNAPRed/Mantid remove it) and
focused into the Column groups with the geometric constants. For each group the spike's d range
is ``[t_k / DIFC_max, t_k / DIFC_min]`` over the group's pixels (``t_k`` = 10^6/60 us, the
source's pulse; 5 us wide), the removed window ``[t_r / DIFC_max, (t_r + w) / DIFC_min]``
(``t_r`` = 10^6/60.4 us, SNAPRed's frequency, ``w`` = 1600 us). The residual is the mean count per
bin in the spike's range minus the mean in two side bands of the same width just outside the
removed window, in units of the standard error of that difference: a peak left by the spike is
positive, the hole of the removed window (its neutrons go too) negative.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from snapcal_core.data.load import load_event_file
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.instrument.prompt_pulse import PromptPulseSettings
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe.calibrate import geometric_table
from snapcal_core.recipe.focus import FocusedSpectra, focus_events, log_d_edges
from snapcal_core.settings import get_settings
from snapcal_core.simulate.nuisances import SOURCE_PERIOD_US, Nuisances
from snapcal_core.simulate.run import simulate_run

LOG_STEP = 1e-3


def prompt_residual_sigma(focused: FocusedSpectra, table: DiffCalTable, group_of_pixel: np.ndarray,
                          *, settings: PromptPulseSettings = PromptPulseSettings(),
                          spike_us: float = SOURCE_PERIOD_US) -> dict[int, float]:
    """Each group's residual at the spike's d, in sigma (module docstring); NaN where a side band
    leaves the spectrum's range."""
    removed_us = 1e6 / settings.frequency_hz
    d, out = focused.d_centres_angstrom, {}
    for row, g in enumerate(focused.group_ids):
        difc = table.difc[(group_of_pixel == g) & (table.use > 0)]
        lo, hi = spike_us / difc.max(), spike_us / difc.min()
        hole_lo, hole_hi = min(lo, removed_us / difc.max()), max(hi, (removed_us + settings.width_us) / difc.min())
        width = hi - lo
        centre, left, right = ((d >= a) & (d < b) for a, b in ((lo, hi), (hole_lo - width, hole_lo),
                                                                (hole_hi, hole_hi + width)))
        if not (left.any() and right.any()) or hole_lo - width < d.min() or hole_hi + width > d.max():
            out[int(g)] = float("nan")
            continue
        counts = focused.counts[row]
        side = np.concatenate([counts[left], counts[right]])
        diff = counts[centre].mean() - side.mean()
        err = np.sqrt(counts[centre].mean() / centre.sum() + side.mean() / side.size)
        out[int(g)] = float(diff / max(err, 1e-12))
    return out


def focused_column(path, *, remove: bool) -> tuple[FocusedSpectra, DiffCalTable, np.ndarray]:
    """The run's events (prompt pulse kept or removed), focused into Column with the geometric DIFC."""
    events = load_event_file(path, lite_requested=True, prompt_pulse=PromptPulseSettings(remove=remove))
    grouping = builtin_grouping("Column", lite=True)
    table = geometric_table(events, grouping)
    edges = log_d_edges(d_min_angstrom=0.3, d_max_angstrom=8.0, log_step=LOG_STEP)
    focused = focus_events(pixel=events.pixel, tof_us=events.tof_us, group_of_pixel=grouping.group_of_pixel,
                           table=table, d_edges_angstrom=edges)
    return focused, table, grouping.group_of_pixel


def simulate_rough(*, events: float, seed: int, wavelength_angstrom: float, data_root: str):
    settings = get_settings(data_root=data_root)
    return simulate_run(run_number=1, ipts=1, sample="diamond", n_events=int(events), seed=seed,
                        wavelength_angstrom=wavelength_angstrom, settings=settings, nuisances=Nuisances.rough())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=float, default=2e7)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--wavelength", type=float, default=3.0, help="Centre wavelength of the state (angstrom)")
    args = parser.parse_args()
    sim = simulate_rough(events=args.events, seed=args.seed, wavelength_angstrom=args.wavelength,
                         data_root=tempfile.mkdtemp(prefix="snapcal-prompt-"))
    print(f"{args.events:.0e} events, rough, Lite, Column, {args.wavelength} A, seed {args.seed}")
    print("| group | residual at the spike's d, pulse kept (sigma) | removed (sigma) |")
    print("| ---: | ---: | ---: |")
    kept = prompt_residual_sigma(*focused_column(sim.raw_path, remove=False))
    removed = prompt_residual_sigma(*focused_column(sim.raw_path, remove=True))
    for g in kept:
        print(f"| {g} | {kept[g]:+.1f} | {removed[g]:+.1f} |")


if __name__ == "__main__":
    main()
