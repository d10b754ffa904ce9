"""``snapcal inspect RUN``: what a run is (IPTS, file, state) and how its events fall in groups."""

from __future__ import annotations

import numpy as np
import typer

from cli.display import console, print_json, print_table
from snapcal_core.data.load import load_run
from snapcal_core.data.read import read_header
from snapcal_core.instrument.groupings import load_grouping


def run_summary(run: str, *, lite: bool, grouping: str = "Column", write_lite: bool = False) -> dict:
    """IPTS, file, state, events in the file and in the band, events not used, banks, events per group."""
    events = load_run(run, lite=lite, write_lite=write_lite)
    groups = load_grouping(grouping, lite=events.lite)
    per_group = np.bincount(groups.group_of_pixel[events.pixel], minlength=int(groups.group_ids.max()) + 1)
    meta = events.metadata
    header = read_header(meta.raw_path)
    return {
        "run_number": meta.run_number,
        "ipts": meta.ipts,
        "file": meta.raw_path,
        "title": meta.title,
        "start_time": meta.start_time,
        "end_time": meta.end_time,
        "proton_charge": meta.proton_charge,
        "state_id": meta.state.state_id(),
        "state": meta.state.model_dump(mode="json"),
        "lite": events.lite,
        "events_in_file": header.n_events,
        "events_in_band": events.n_events,
        "events_out_of_range": meta.n_events_out_of_range,
        "prompt_pulse_events": meta.n_prompt_pulse_events,
        "screened_native_pixels": meta.screened_native_pixels,
        "screened_events": meta.n_screened_events,
        "error_events": header.n_error_events,
        "unmapped_events": header.n_unmapped_events,
        "banks": list(header.bank_names),
        "missing_banks": list(header.missing_banks),
        "empty_banks": list(header.empty_banks),
        "grouping": groups.name,
        "events_per_group": {int(g): int(per_group[g]) for g in groups.group_ids},
    }


def _banks_line(s: dict) -> str:
    """``18 with events`` plus the missing and empty ones, if any."""
    n_with_events = len(s["banks"]) - len(s["empty_banks"])
    parts = [f"{n_with_events} with events"]
    if s["missing_banks"]:
        parts.append(f"missing: {', '.join(s['missing_banks'])}")
    if s["empty_banks"]:
        parts.append(f"empty: {', '.join(s['empty_banks'])}")
    return "; ".join(parts)


def inspect(
    run: str = typer.Argument(..., help="Run number"),
    lite: bool = typer.Option(False, "--lite", help="Count events in Lite mode (uses the Lite copy if present)"),
    grouping: str = typer.Option("Column", "--grouping", help="Column|Bank|All|FILE"),
    write_lite: bool = typer.Option(False, "--write-lite", help="Also write the Lite copy under <IPTS>/shared/lite"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Show a run's IPTS, file, state id, detector state and events in total and per group."""
    s = run_summary(run, lite=lite, grouping=grouping, write_lite=write_lite)
    if json_out:
        print_json(s)
        return
    st = s["state"]
    console.print(f"run {s['run_number']}  IPTS-{s['ipts']}  {s['title']}")
    console.print(f"  file     : {s['file']}")
    console.print(f"  time     : {s['start_time']} .. {s['end_time']}  proton charge {s['proton_charge']:.6g}")
    console.print(f"  state id : {s['state_id']}  (arc {tuple(st['arc_deg'])} deg, lin {tuple(st['lin_m'])} m, "
                  f"{st['wavelength_angstrom']} A, {st['frequency_hz']} Hz, guide {st['guide']})")
    console.print(f"  events   : {s['events_in_file']:,} in the file, {s['events_in_band']:,} in the TOF band "
                  f"({s['prompt_pulse_events']:,} in-band prompt-pulse events removed)")
    console.print(f"  not used : {s['events_out_of_range']:,} with ids beyond the instrument, "
                  f"{s['error_events']:,} error events, {s['unmapped_events']:,} unmapped events")
    console.print(f"  banks    : {_banks_line(s)}")
    screened = ", ".join(f"{n:,} {r}" for r, n in s["screened_native_pixels"].items()) or "none"
    console.print(f"  screened : native pixels masked at load: {screened} ({s['screened_events']:,} events dropped)")
    rows = [[g, n] for g, n in s["events_per_group"].items()]
    mode = "Lite" if s["lite"] else "native"
    print_table(f"events in band per {s['grouping']} group ({mode})", ["group", "events"], rows)
