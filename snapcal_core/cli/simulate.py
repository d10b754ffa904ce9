"""``snapcal simulate``: write a simulated SNAP calibrant run into the facility tree."""

from __future__ import annotations

from typing import Optional

import pydantic
import typer

from snapcal_core.cli._common import console, print_json
from snapcal_core.constants import (
    REFERENCE_ARC_DEG,
    REFERENCE_FREQUENCY_HZ,
    REFERENCE_GUIDE,
    REFERENCE_LIN_M,
    REFERENCE_WAVELENGTH_ANGSTROM,
)
from snapcal_core.errors import InvalidOptionsError
from snapcal_core.simulate.nuisances import Nuisances
from snapcal_core.simulate.run import SAMPLE_MATERIALS, simulate_run


def _nuisances(rough: bool, given: dict[str, Optional[float]]) -> Nuisances:
    """The preset (``--rough``) or none, with every option given on the command line on top."""
    base = Nuisances.rough() if rough else Nuisances()
    update = {name: value for name, value in given.items() if value is not None}
    try:
        return Nuisances(**{**base.model_dump(), **update})
    except pydantic.ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'nuisances'}: {e['msg']}" for e in exc.errors())
        raise InvalidOptionsError(f"invalid nuisance option: {reasons}") from exc


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
    rough: bool = typer.Option(False, "--rough", help="Detector nuisances of a real run (Nuisances.rough(): "
                               "dead, hot and bursting pixels, noisy edges, efficiency, prompt pulse, error events)"),
    dead_fraction: Optional[float] = typer.Option(None, "--dead-fraction", help="Fraction of dead native pixels"),
    dead_tubes: Optional[int] = typer.Option(None, "--dead-tubes", help="Dead tubes (lines of 256 pixels)"),
    dead_panels: Optional[int] = typer.Option(None, "--dead-panels", help="Dead panels"),
    hot_fraction: Optional[float] = typer.Option(None, "--hot-fraction", help="Fraction of steadily hot native pixels"),
    burst_pixels: Optional[int] = typer.Option(None, "--burst-pixels", help="Pixels hot during a few pulses"),
    edge_rate: Optional[float] = typer.Option(None, "--edge-rate", help="Noise on panel edges (x mean pixel rate)"),
    efficiency_spread: Optional[float] = typer.Option(None, "--efficiency-spread",
                                                   help="Log-normal spread of pixel efficiency (0.2 = 20 %)"),
    prompt_fraction: Optional[float] = typer.Option(None, "--prompt-fraction",
                                                 help="Prompt-pulse events, fraction of --events"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Simulate a SNAP calibrant run (native event file + truth diffcal beside it).

    A perfect detector unless --rough or a nuisance option is given (options override the preset).
    """
    nuisances = _nuisances(rough, dict(
        dead_fraction=dead_fraction, dead_tubes=dead_tubes, dead_panels=dead_panels, hot_fraction=hot_fraction,
        burst_pixels=burst_pixels, edge_rate=edge_rate, efficiency_spread=efficiency_spread,
        prompt_fraction=prompt_fraction,
    ))
    result = simulate_run(
        run_number=run, ipts=ipts, sample=sample, n_events=events, seed=seed, arc_deg=arc, lin_m=lin,
        wavelength_angstrom=wavelength, frequency_hz=frequency, guide=guide, tzero_us=tzero, difa=difa,
        overwrite=overwrite, nuisances=nuisances,
    )
    if json_out:
        print_json(result)
        return
    console.print(f"run {result.run_number} ({result.sample}, seed {result.seed}): {result.n_events:,} events")
    console.print(f"  raw file : {result.raw_path}")
    console.print(f"  truth    : {result.truth_path}")
    console.print(f"  state id : {result.state_id}")
    if result.nuisance_events:
        added = ", ".join(f"{name} {n:,}" for name, n in result.nuisance_events.items())
        console.print(f"  nuisances: {added} events (bad pixels in the truth's /calibration/nuisance)")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
