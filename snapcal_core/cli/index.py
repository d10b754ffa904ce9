"""``snapcal index list|show|applies|repair``: the calibration store from the terminal."""

from __future__ import annotations

import datetime as dt

import typer

from snapcal_core.cli._common import console, print_json, print_table
from snapcal_core.errors import StorageError
from snapcal_core.settings import get_settings
from snapcal_core.storage.paths import diffraction_dir
from snapcal_core.storage.reconcile import reconcile
from snapcal_core.storage.store import applicable_version, list_states, list_versions, load_version

index_app = typer.Typer(help="Versioned calibrations in the calibration home.", no_args_is_help=True)
STATE = typer.Option(None, "--state", help="State id (default: the only state in the home)")
NATIVE = typer.Option(False, "--native", help="Native-mode calibrations instead of Lite")


def _state(state: str | None) -> str:
    if state:
        return state
    states = list_states(get_settings().calibration_home)
    if len(states) != 1:
        raise StorageError(f"give --state: the calibration home holds {len(states)} states "
                           f"({', '.join(states) or 'none'})")
    return states[0]


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).isoformat(timespec="seconds") if ts else "-"


@index_app.command("list")
def list_cmd(state: str = STATE, native: bool = NATIVE) -> None:
    """Versions with run, appliesTo, author, time and comments."""
    home, sid = get_settings().calibration_home, _state(state)
    rows = []
    for e in list_versions(home, sid, lite=not native):
        metrics = version_metrics(home, sid, lite=not native, version=e.version)
        rows.append([e.version, e.runNumber, e.appliesTo, e.author, _when(e.timestamp), metrics, e.comments[:40]])
    print_table(f"state {sid} ({'native' if native else 'lite'})",
                ["version", "run", "appliesTo", "author", "time", "groups: peaks, mean sigma/d, max |strain| ppm",
                 "comments"], rows)


def version_metrics(home, state_id: str, *, lite: bool, version: int) -> str:
    """Key metrics of a stored version from its record ('-' when it has none, e.g. v_0000)."""
    try:
        metrics = load_version(home, state_id, lite=lite, version=version).record.groupMetrics
    except StorageError as exc:
        return f"unreadable: {exc}"
    if not metrics:
        return "-"
    def values(key: str) -> list[float]:
        found = [m.get(key) for m in metrics]
        return [float(v) for v in found if isinstance(v, (int, float)) and v == v]

    sigma = values("sigma_mean")
    strain = [abs(v) for v in values("relative_strain_ppm_mean")]
    peaks = sum(m.get("n_peaks_fitted", 0) for m in metrics)
    return (f"{len(metrics)}: {peaks}, {sum(sigma) / max(1, len(sigma)):.4f}, "
            f"{max(strain, default=float('nan')):.0f}")


@index_app.command("show")
def show(version: int = typer.Argument(...), state: str = STATE, native: bool = NATIVE,
         json_out: bool = typer.Option(False, "--json")) -> None:
    """One version's record (metrics, parameters, checksums) and its files."""
    loaded = load_version(get_settings().calibration_home, _state(state), lite=not native, version=version)
    if json_out:
        print_json(loaded.record)
        return
    r = loaded.record
    console.print(f"v_{r.version:04d} run {r.runNumber} by {r.indexEntry.author} at {_when(r.indexEntry.timestamp)}: "
                  f"{r.indexEntry.comments}\n  appliesTo {r.indexEntry.appliesTo}; calibrant {r.calibrant}; "
                  f"grouping {r.grouping}; {r.softwareVersion}\n  folder {loaded.path}")
    if r.groupMetrics:
        keys = [k for k in ("group_id", "n_peaks_fitted", "sigma_mean", "strain_mean", "relative_strain_ppm_mean")
                if k in r.groupMetrics[0]]
        print_table("group metrics", keys, [[m.get(k) for k in keys] for m in r.groupMetrics])


@index_app.command("applies")
def applies_cmd(run: int = typer.Argument(...), state: str = STATE, native: bool = NATIVE) -> None:
    """The version that applies to a run (latest applicable; v_0000 when none)."""
    entry = applicable_version(get_settings().calibration_home, _state(state), lite=not native, run_number=run)
    console.print(f"run {run}: version {entry.version} (appliesTo {entry.appliesTo}, run {entry.runNumber}, "
                  f"by {entry.author})")


@index_app.command("repair")
def repair(state: str = STATE) -> None:
    """Rebuild the index from the v_* folders and drop stale temporary folders (Lite and native)."""
    home, sid = get_settings().calibration_home, _state(state)
    for lite in (True, False):
        directory = diffraction_dir(home, sid, lite=lite)
        if not directory.is_dir():
            continue
        report = reconcile(directory)
        console.print(f"{'lite' if lite else 'native'}: " + (report.model_dump_json() if report.changed or
                                                              report.invalid_versions else "consistent"))


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
