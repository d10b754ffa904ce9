"""``snapcal inspect RUN``: what a run is (IPTS, file, state) and how its events fall in groups."""

from __future__ import annotations

import numpy as np
import typer

from snapcal_core.cli._common import console, print_json, print_table
from snapcal_core.data.load import load_run
from snapcal_core.instrument.groupings import load_grouping


def run_summary(run: str, *, lite: bool, grouping: str, write_lite: bool = False) -> dict:
    """IPTS, file, state, and events per group of ``grouping`` for one run."""
    events = load_run(run, lite=lite or write_lite, write_lite=write_lite)
    groups = load_grouping(grouping, lite=events.lite)
    per_group = np.bincount(groups.group_of_pixel[events.pixel], minlength=int(groups.group_ids.max()) + 1)
    meta = events.metadata
    return {
        "run_number": meta.run_number,
        "ipts": meta.ipts,
        "file": meta.raw_path,
        "title": meta.title,
        "state_id": meta.state.state_id(),
        "state": meta.state.model_dump(mode="json"),
        "lite": events.lite,
        "events_in_band": events.n_events,
        "grouping": groups.name,
        "events_per_group": {int(g): int(per_group[g]) for g in groups.group_ids},
    }


def inspect(
    run: str = typer.Argument(..., help="Run number"),
    lite: bool = typer.Option(False, "--lite", help="Count events in Lite mode"),
    grouping: str = typer.Option("Column", "--grouping", help="Column|Bank|All|FILE"),
    write_lite: bool = typer.Option(False, "--write-lite", help="Also write the Lite copy under <IPTS>/shared/lite"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Show a run's IPTS, file, state id, detector state and events per group."""
    summary = run_summary(run, lite=lite, grouping=grouping, write_lite=write_lite)
    if json_out:
        print_json(summary)
        return
    s = summary["state"]
    console.print(f"run {summary['run_number']}  IPTS-{summary['ipts']}  {summary['title']}")
    console.print(f"  file     : {summary['file']}")
    console.print(f"  state id : {summary['state_id']}  (arc {s['arc_deg']}, lin {s['lin_m']}, "
                  f"{s['wavelength_angstrom']} A, {s['frequency_hz']} Hz, guide {s['guide']})")
    rows = [[g, n] for g, n in summary["events_per_group"].items()]
    print_table(f"events in band per {summary['grouping']} group ({'Lite' if lite else 'native'}): "
                f"{summary['events_in_band']:,}", ["group", "events"], rows)


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
