"""``make demo``: simulate a SNAP diamond run into ./var and take it through the pipeline."""

from __future__ import annotations

import time

from snapcal_core.cli._common import console, print_table
from snapcal_core.cli.inspect import run_summary
from snapcal_core.errors import IptsNotFoundError
from snapcal_core.data.locate import find_ipts
from snapcal_core.settings import get_settings
from snapcal_core.simulate.run import simulate_run

DEMO_RUN = 58810
DEMO_IPTS = 32163
DEMO_EVENTS = 10_000_000


def main() -> None:
    settings = get_settings()
    console.rule("snapcal demo")
    console.print(f"data root: {settings.data_root.resolve()}  calibration home: {settings.calibration_home.resolve()}")
    try:
        find_ipts(DEMO_RUN, data_root=settings.data_root)
        console.print(f"run {DEMO_RUN} already simulated; reusing it")
    except IptsNotFoundError:
        t0 = time.perf_counter()
        sim = simulate_run(run_number=DEMO_RUN, ipts=DEMO_IPTS, sample="diamond", n_events=DEMO_EVENTS, seed=2026,
                           settings=settings)
        console.print(f"simulated {sim.n_events:,} diamond events in {time.perf_counter() - t0:.1f} s -> {sim.raw_path}")
        console.print(f"truth (for scoring): {sim.truth_path}")
    t0 = time.perf_counter()
    summary = run_summary(str(DEMO_RUN), lite=True, grouping="Column")
    console.print(f"loaded and converted to Lite in {time.perf_counter() - t0:.1f} s")
    console.print(f"state id: [bold]{summary['state_id']}[/bold]")
    print_table(f"run {DEMO_RUN}: {summary['events_in_band']:,} events in band per Column group (Lite)",
                ["group", "events"], [[g, n] for g, n in summary["events_per_group"].items()])


if __name__ == "__main__":
    main()
