"""``snapcal simulate``: write a simulated SNAP calibrant run into the facility tree.

Long simulations show their progress on stderr (a rich bar on a terminal, a plain line every
``PROGRESS_EVERY_S`` otherwise). SIGTERM is turned into an interrupt like Ctrl-C, so either one
removes the partial files on the way out (exit 143 and 130).
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pydantic
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cli import error_line
from cli.display import console, print_json
from snapcal_core.constants import (
    REFERENCE_ARC_DEG,
    REFERENCE_FREQUENCY_HZ,
    REFERENCE_GUIDE,
    REFERENCE_LIN_M,
    REFERENCE_WAVELENGTH_ANGSTROM,
)
from snapcal_core.errors import InvalidOptionsError
from snapcal_core.simulate.nuisances import Nuisances
from snapcal_core.simulate.run import (
    MAX_EVENTS,
    SAMPLE_MATERIALS,
    estimated_bytes,
    simulate_run,
    validate_n_events,
)

#: Seconds between two plain progress lines (stderr is not a terminal).
PROGRESS_EVERY_S = 10.0
#: Exit codes of a simulation stopped by a signal (128 + signal number, as a shell reports it).
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM during a simulation, raised like Ctrl-C so the partial files are removed on the way out."""


def event_count(text: str) -> int:
    """``--events``: an integer written plainly, with ``_`` or ``,`` separators, or as ``1e7``."""
    cleaned = str(text).strip().replace("_", "").replace(",", "")
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        value = float(cleaned)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number of events") from None
    if not math.isfinite(value) or value != int(value):
        raise typer.BadParameter(f"{text!r} is not a whole number of events")
    return int(value)


@contextmanager
def terminate_like_interrupt() -> Iterator[None]:
    """While the block runs (main thread only), SIGTERM raises :class:`Terminated`; a second one is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class PlainProgress:
    """Progress as one plain line on stderr at most every ``every_s`` seconds (logs, pipes, CI)."""

    def __init__(self, *, run: int, every_s: float = PROGRESS_EVERY_S, clock: Callable[[], float] = time.monotonic,
                 echo: Callable[[str], None] = lambda line: typer.echo(line, err=True)) -> None:
        self.run, self.every_s, self._clock, self._echo = run, every_s, clock, echo
        self._start_s = self._last_s = clock()
        self._printed = False

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        finished = done >= total
        if not (now - self._last_s >= self.every_s or (finished and self._printed)):
            return
        elapsed = now - self._start_s
        left = elapsed * (total - done) / done if done else math.nan
        self._echo(f"run {self.run}: {done:,} of {total:,} events ({100 * done / total:.0f} %), "
                   f"{elapsed:.0f} s" + ("" if finished else f", about {left:.0f} s left"))
        self._last_s, self._printed = now, True


def _silent(done: int, total: int) -> None:
    return None


@contextmanager
def progress_reporter(run: int, n_events: int, *, quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on a terminal's stderr, else :class:`PlainProgress` (nothing when ``quiet``)."""
    if not sys.stderr.isatty():
        yield _silent if quiet else PlainProgress(run=run)
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"run {run}: preparing", total=n_events)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"run {run}: events")

        yield update


def _nuisances(rough: bool, given: dict[str, float | None]) -> Nuisances:
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
    events: int = typer.Option(10_000_000, "--events", parser=event_count,
                               help=f"Number of events (10000000, 10_000_000 or 1e7; at most {MAX_EVENTS:,})"),
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
    dead_fraction: float | None = typer.Option(None, "--dead-fraction", help="Fraction of dead native pixels"),
    dead_tubes: int | None = typer.Option(None, "--dead-tubes", help="Dead tubes (lines of 256 pixels)"),
    dead_panels: int | None = typer.Option(None, "--dead-panels", help="Dead panels"),
    hot_fraction: float | None = typer.Option(None, "--hot-fraction", help="Fraction of steadily hot native pixels"),
    burst_pixels: int | None = typer.Option(None, "--burst-pixels", help="Pixels hot during a few pulses"),
    edge_rate: float | None = typer.Option(None, "--edge-rate", help="Noise on panel edges (x mean pixel rate)"),
    efficiency_spread: float | None = typer.Option(None, "--efficiency-spread",
                                                   help="Log-normal spread of pixel efficiency (0.2 = 20 %)"),
    prompt_fraction: float | None = typer.Option(None, "--prompt-fraction",
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
    events = validate_n_events(events)  # before the announcement below
    if not json_out:  # --json: only the JSON document (a progress bar only on a terminal)
        typer.echo(f"simulating run {run} ({sample}): {events:,} events, about "
                   f"{estimated_bytes(events) / 1e9:.2f} GB", err=True)
    try:
        with terminate_like_interrupt(), progress_reporter(run, events, quiet=json_out) as progress:
            result = simulate_run(
                run_number=run, ipts=ipts, sample=sample, n_events=events, seed=seed, arc_deg=arc, lin_m=lin,
                wavelength_angstrom=wavelength, frequency_hz=frequency, guide=guide, tzero_us=tzero, difa=difa,
                overwrite=overwrite, nuisances=nuisances, progress=progress,
            )
    except KeyboardInterrupt as exc:
        by = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C (SIGINT)"
        typer.secho(error_line("Interrupted", f"simulation of run {run} stopped by {by}; nothing was written "
                               "(its partial files were removed)"), err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT) from None
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
