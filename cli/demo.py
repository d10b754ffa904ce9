"""``make demo``: simulate a SNAP diamond run into ./var and calibrate it end to end on an embedded
Prefect server, approving automatically, then show where the new version was written."""

from __future__ import annotations

import time

# Prefect's state stays under the snapcal home too (var/prefect), set before Prefect is imported; nothing phones home.
from snapcal_core.settings import ensure_prefect_home, use_prefect_environment

use_prefect_environment()
ensure_prefect_home()

from cli.display import console, print_table  # noqa: E402
from cli.inspect import run_summary  # noqa: E402
from snapcal_core.data.locate import find_ipts  # noqa: E402
from snapcal_core.errors import IptsNotFoundError  # noqa: E402
from snapcal_core.recipe.difc_fit import FitMode  # noqa: E402
from snapcal_core.settings import get_settings  # noqa: E402
from snapcal_core.simulate.run import simulate_run  # noqa: E402

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
    summary = run_summary(str(DEMO_RUN), lite=True, grouping="Column")
    console.print(f"state id: [bold]{summary['state_id']}[/bold]")
    print_table(f"run {DEMO_RUN}: {summary['events_in_band']:,} events in band per Column group (Lite)",
                ["group", "events"], [[g, n] for g, n in summary["events_per_group"].items()])
    console.rule("calibration flow (embedded Prefect server, approved automatically)")
    from cli.calibrate import calibrate

    calibrate(run=DEMO_RUN, sample="diamond", grouping="Column", native=False, fit=FitMode.DIFC, skip_pixel=False,
              approve=True, gate=False, author="make demo", interactive=False, pause_timeout=600, mask=None)
    console.print("Inspect the store with: .venv/bin/snapcal index list ; .venv/bin/snapcal index show 1")


if __name__ == "__main__":
    main()
