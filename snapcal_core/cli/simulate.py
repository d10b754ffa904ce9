"""``snapcal simulate``: write a simulated SNAP calibrant run into the facility tree."""

from __future__ import annotations

import typer

from snapcal_core.cli._common import console, print_json
from snapcal_core.constants import (
    REFERENCE_ARC_DEG,
    REFERENCE_FREQUENCY_HZ,
    REFERENCE_GUIDE,
    REFERENCE_LIN_M,
    REFERENCE_WAVELENGTH_ANGSTROM,
)
from snapcal_core.simulate.run import SAMPLE_MATERIALS, simulate_run


def simulate(
    run: int = typer.Option(..., "--run", help="Run number to create"),
    ipts: int = typer.Option(..., "--ipts", help="IPTS (proposal) folder to put it in"),
    sample: str = typer.Option("diamond", "--sample", help=f"Calibrant: {'|'.join(SAMPLE_MATERIALS)}"),
    events: int = typer.Option(10_000_000, "--events", help="Number of events"),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same file)"),
    arc: tuple[float, float] = typer.Option(REFERENCE_ARC_DEG, "--arc", help="det_arc1 det_arc2 (deg)"),
    lin: tuple[float, float] = typer.Option(REFERENCE_LIN_M, "--lin", help="det_lin1 det_lin2 (m)"),
    wavelength: float = typer.Option(REFERENCE_WAVELENGTH_ANGSTROM, "--wavelength", help="Central wavelength (A)"),
    frequency: float = typer.Option(REFERENCE_FREQUENCY_HZ, "--frequency", help="Frequency (Hz)"),
    guide: int = typer.Option(REFERENCE_GUIDE, "--guide", min=1, max=2, help="Guide: 1 = in, 2 = out"),
    tzero: float = typer.Option(0.0, "--tzero", help="Injected true TZERO (us)"),
    difa: float = typer.Option(0.0, "--difa", help="Injected true DIFA (us/A^2)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Simulate a SNAP calibrant run (native event file + truth diffcal beside it)."""
    result = simulate_run(
        run_number=run, ipts=ipts, sample=sample, n_events=events, seed=seed, arc_deg=arc, lin_m=lin,
        wavelength_angstrom=wavelength, frequency_hz=frequency, guide=guide, tzero_us=tzero, difa=difa,
        overwrite=overwrite,
    )
    if json_out:
        print_json(result)
        return
    console.print(f"run {result.run_number} ({result.sample}, seed {result.seed}): {result.n_events:,} events")
    console.print(f"  raw file : {result.raw_path}")
    console.print(f"  truth    : {result.truth_path}")
    console.print(f"  state id : {result.state_id}")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
