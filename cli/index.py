"""``snapcal index list|show|applies|repair``: the calibration store from the terminal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from cli.display import console, print_json, print_table
from snapcal_core.errors import StorageError
from snapcal_core.settings import get_settings
from snapcal_core.storage.paths import diffraction_dir, existing_versions
from snapcal_core.storage.reconcile import reconcile
from snapcal_core.storage.versions import applicable_version, list_states, list_versions, load_version, read_record

index_app = typer.Typer(help="Versioned calibrations in the calibration home.", no_args_is_help=True)
STATE = typer.Option(None, "--state", help="State id (default: the only state in the calibration home)")
NATIVE = typer.Option(False, "--native", help="Native-mode calibrations instead of Lite")


def state_versions(home: Path, state_id: str) -> tuple[int, int]:
    """Calibrations of a state in the store, Lite and native (the default v_0000 not counted)."""
    n_lite, n_native = (sum(1 for v in existing_versions(diffraction_dir(home, state_id, lite=lite)) if v > 0)
                        for lite in (True, False))
    return n_lite, n_native


def _states_text(home: Path, states: list[str]) -> str:
    """``id (L Lite, N native versions), ...``: the states to choose from."""
    return ", ".join(f"{sid} ({lite} Lite, {native} native versions)"
                     for sid, (lite, native) in ((s, state_versions(home, s)) for s in states)) or "none"


def _state(state: str | None) -> str:
    if state:
        return state
    home = get_settings().calibration_home
    states = list_states(home)
    if len(states) != 1:
        found = f"{len(states)} states: {_states_text(home, states)}" if states else \
            "no state yet (a calibration saved with snapcal calibrate creates its state)"
        raise StorageError(f"give --state STATE_ID: the calibration home {home} holds {found}")
    return states[0]


def _list_states(home: Path, states: list[str]) -> None:
    """The table of states to choose from (``index list`` without --state, none or several states)."""
    if not states:
        console.print(f"no calibration in {home} yet: a calibration saved with snapcal calibrate creates its "
                      "instrument state")
        return
    rows = [[sid, *state_versions(home, sid)] for sid in states]
    print_table(f"{len(states)} instrument states in {home}", ["state id", "Lite versions", "native versions"], rows)
    console.print("list one state's versions with: snapcal index list --state STATE_ID")


def _mode(native: bool) -> str:
    return "native" if native else "lite"


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).isoformat(timespec="seconds") if ts else "-"


def metrics_summary(metrics: list[dict[str, Any]]) -> str:
    """'groups: fitted peaks, mean sigma/d, max |relative strain| ppm' of a record ('-' without metrics)."""
    if not metrics:
        return "-"

    def values(key: str) -> list[float]:
        found = [m.get(key) for m in metrics]
        return [float(v) for v in found if isinstance(v, (int, float)) and v == v]

    sigma = values("sigma_mean")
    strain = [abs(v) for v in values("relative_strain_ppm_mean")]
    peaks = int(sum(values("n_peaks_fitted")))
    mean_sigma = f"{sum(sigma) / len(sigma):.4f}" if sigma else "-"
    max_strain = f"{max(strain):.0f}" if strain else "-"
    return f"{len(metrics)}: {peaks}, {mean_sigma}, {max_strain}"


def _disagreement(sid: str, native: bool, listed: list[int]) -> str | None:
    directory = diffraction_dir(get_settings().calibration_home, sid, lite=not native)
    folders = existing_versions(directory)
    unindexed = sorted(set(folders) - set(listed))
    missing = sorted(set(listed) - set(folders))
    stale = [p.name for p in directory.glob(".tmp_v_*")] if directory.is_dir() else []
    if not (unindexed or missing or stale):
        return None
    return (f"index and folders disagree (folders without entry {unindexed}, entries without folder {missing}, "
            f"{len(stale)} stale temporary folders; a writer may be running or have crashed): "
            f"run 'snapcal index repair'")


@index_app.command("list")
def list_cmd(state: str = STATE, native: bool = NATIVE) -> None:
    """Versions with run, appliesTo, author, time, key metrics and comments (the states, when there are several)."""
    home = get_settings().calibration_home
    states = list_states(home)
    if state is None and len(states) != 1:
        _list_states(home, states)
        return
    sid = _state(state)
    entries = list_versions(home, sid, lite=not native)
    rows = []
    for e in entries:
        try:
            metrics = metrics_summary(read_record(home, sid, lite=not native, version=e.version).groupMetrics)
        except StorageError as exc:
            metrics = f"unreadable: {exc}"
        rows.append([e.version, e.runNumber, e.appliesTo, e.author, _when(e.timestamp), metrics, e.comments[:40]])
    print_table(f"state {sid} ({_mode(native)})",
                ["version", "run", "appliesTo", "author", "time", "groups: peaks, mean sigma/d, max |strain| ppm",
                 "comments"], rows)
    warning = _disagreement(sid, native, [e.version for e in entries])
    if warning:
        console.print(f"[yellow]warning:[/yellow] {warning}")


@index_app.command("show")
def show(version: int = typer.Argument(..., help="Version number (0 = default from geometry)"),
         state: str = STATE, native: bool = NATIVE,
         json_out: bool = typer.Option(False, "--json", help="The whole record as JSON")) -> None:
    """One version's record (metrics, parameters, checksums) and its files; checksums are verified."""
    loaded = load_version(get_settings().calibration_home, _state(state), lite=not native, version=version)
    if json_out:
        print_json(loaded.record)
        return
    r, e = loaded.record, loaded.record.indexEntry
    console.print(f"v_{r.version:04d} run {r.runNumber} by {e.author} at {_when(e.timestamp)}: {e.comments}\n"
                  f"  appliesTo {e.appliesTo}; calibrant {r.calibrant}; grouping {r.grouping}; {r.softwareVersion}\n"
                  f"  {loaded.table.n_rows} pixels, {int(loaded.mask.sum())} masked; folder {loaded.path}")
    if r.groupMetrics:
        keys = [k for k in ("group_id", "n_peaks_fitted", "sigma_mean", "strain_mean", "relative_strain_ppm_mean")
                if k in r.groupMetrics[0]]
        print_table("group metrics", keys, [[m.get(k) for k in keys] for m in r.groupMetrics])
    print_table("files", ["name", "sha256"], [[n, r.checksums.get(n, "-")[:16]] for n in loaded.files])


@index_app.command("applies")
def applies_cmd(run: int = typer.Argument(..., help="Run number"), state: str = STATE, native: bool = NATIVE) -> None:
    """The version that applies to a run (latest applicable by time; v_0000 when none)."""
    entry = applicable_version(get_settings().calibration_home, _state(state), lite=not native, run_number=run)
    console.print(f"run {run}: version {entry.version} (appliesTo {entry.appliesTo}, run {entry.runNumber}, "
                  f"by {entry.author or '-'} at {_when(entry.timestamp)})")


@index_app.command("repair")
def repair(state: str = STATE,
           check: bool = typer.Option(False, "--check", help="Only report; change nothing")) -> None:
    """Rebuild the index from the v_* folders and drop stale temporary files (Lite and native)."""
    home, sid = get_settings().calibration_home, _state(state)
    for lite in (True, False):
        directory = diffraction_dir(home, sid, lite=lite)
        if not directory.is_dir():
            continue
        report = reconcile(directory, repair=not check)
        for line in report.lines():
            console.print(f"{_mode(not lite)}: {line}")
