"""``snapcal assess FOCUSED.nxs --sample SAMPLE``: quality metrics of any focused d-spacing or TOF data.

The group geometry comes from the file's detectors; a file that has none (SNAPRed saves many
spectra with an empty instrument) takes it from ``--grouping NAME --lite|--native`` and a
detector state: ``--run N`` (read from the run's event file), ``--arc A1 A2 --lin L1 L2``
(wavelength from ``--wavelength`` or the file's logs) or ``--state STATEID`` (the detector state
the calibration store recorded when it initialised the state).
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.display import console, print_json, print_table
from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.data.locate import locate_run
from snapcal_core.data.state import read_state_file
from snapcal_core.errors import InvalidOptionsError, RunNotFoundError, StorageError
from snapcal_core.instrument.groupings import load_grouping
from snapcal_core.instrument.types import GroupParameters
from snapcal_core.io.nxprocessed import FocusedWorkspace, read_focused_workspace
from snapcal_core.models import DetectorState
from snapcal_core.recipe.assess import (
    ASSESS_FIT,
    ASSESS_PEAKS,
    GroupAssessment,
    assess_workspace,
    given_group_parameters,
)
from snapcal_core.settings import get_settings
from snapcal_core.storage.versions import read_record

METRIC_COLUMNS = ["sigma_mean", "sigma_std", "strain_mean", "strain_std", "relative_strain_ppm_mean",
                  "relative_strain_ppm_std", "two_theta_deg", "n_peaks_fitted", "n_peaks_attempted", "chi2_mean"]


def run_state(run: int, *, lite: bool) -> DetectorState:
    """Detector state of a run from its event file (the Lite copy when Lite and present, else the raw file)."""
    settings = get_settings()
    where = locate_run(run, data_root=settings.data_root)
    path = where.lite_path if lite and where.lite_path.is_file() else where.raw_path
    if not path.is_file():
        raise RunNotFoundError(f"run {run}: neither {where.raw_path} nor {where.lite_path} exists")
    return read_state_file(path)


def stored_state(state_id: str, *, lite: bool) -> DetectorState:
    """The detector state the calibration store recorded for ``state_id`` (its v_0000 record).

    The state id hashes arc to 0.5 deg and leaves det_lin out, so this is the state of the run the
    store was initialised with; other runs of the same id may differ within that rounding and in lin.
    """
    try:
        return read_record(get_settings().calibration_home, state_id, lite=lite, version=0).detectorState
    except StorageError as exc:
        raise StorageError(f"--state {state_id}: {exc}") from exc


def _state_source(*, run: int | None, state_id: str | None, arc: tuple[float, float] | None,
                  lin: tuple[float, float] | None) -> str | None:
    """Which one of --run, --state, --arc/--lin was given (None: none); InvalidOptionsError otherwise."""
    if (arc is None) != (lin is None):
        raise InvalidOptionsError("--arc A1 A2 and --lin L1 L2 go together: give both (det_arc1 det_arc2 in deg, "
                                  "det_lin1 det_lin2 in m)")
    given = [name for name, value in (("--run", run), ("--state", state_id), ("--arc/--lin", arc)) if value is not None]
    if len(given) > 1:
        raise InvalidOptionsError(f"{' and '.join(given)} each give the detector state: give only one")
    return given[0] if given else None


def given_groups(
    ws: FocusedWorkspace, *, grouping: str | None, lite: bool | None, run: int | None, state_id: str | None,
    arc: tuple[float, float] | None, lin: tuple[float, float] | None, wavelength: float | None,
) -> list[GroupParameters] | None:
    """Group geometry from the options, or None when none of them is given (the file's geometry is used)."""
    source = _state_source(run=run, state_id=state_id, arc=arc, lin=lin)
    if source is None and grouping is None:
        return None
    if grouping is None:
        raise InvalidOptionsError(f"{source} gives the detector state; also give --grouping NAME|FILE (how the "
                                  f"pixels form the spectra of {ws.path.name}) and --lite or --native")
    if source is None:
        raise InvalidOptionsError(f"--grouping {grouping} needs the detector state: give --run N, --arc A1 A2 "
                                  f"--lin L1 L2 [--wavelength W] or --state STATEID")
    if lite is None:
        raise InvalidOptionsError(f"--grouping {grouping}: say whether {ws.path.name} holds Lite or native pixels "
                                  f"with --lite or --native")
    arc, lin, wl = _state_geometry(ws, lite=lite, run=run, state_id=state_id, arc=arc, lin=lin, wavelength=wavelength)
    return given_group_parameters(arc_deg=arc, lin_m=lin, wavelength_angstrom=wl,
                                  grouping=load_grouping(grouping, lite=lite))


def _state_geometry(
    ws: FocusedWorkspace, *, lite: bool, run: int | None, state_id: str | None, arc: tuple[float, float] | None,
    lin: tuple[float, float] | None, wavelength: float | None,
) -> tuple[tuple[float, float], tuple[float, float], float]:
    """``(arc_deg, lin_m, wavelength_angstrom)``: from the run or the store, else as given; the
    wavelength from --wavelength, else the state's, else the file's logs."""
    state = run_state(run, lite=lite) if run is not None else None
    if state_id is not None:
        state = stored_state(state_id, lite=lite)
    if state is not None:
        arc, lin = state.arc_deg, state.lin_m
    if arc is None or lin is None:  # not reached: _state_source lets no state through without both
        raise InvalidOptionsError("give --run N, --state STATEID or --arc A1 A2 --lin L1 L2")
    if wavelength is None:
        wavelength = state.wavelength_angstrom if state is not None else ws.wavelength_angstrom
    if wavelength is None:
        raise InvalidOptionsError(f"{ws.path}: no wavelength in its logs (logs/LambdaRequest ...): give --wavelength W "
                                  f"(angstrom) with --arc/--lin")
    return (float(arc[0]), float(arc[1])), (float(lin[0]), float(lin[1])), float(wavelength)


def _json(result: list[GroupAssessment]) -> list[dict]:
    return [{"group_id": g.group_id, "spectrum_number": g.spectrum_number, "outcome": g.outcome.value,
             "reason": g.reason, "geometry_source": g.geometry_source, **g.metrics.model_dump(mode="json"),
             "peaks": [{"d_ref_angstrom": p.d_ref_angstrom, "d_fit_angstrom": p.centre,
                        "d_fit_error_angstrom": p.centre_error, "sigma_angstrom": p.sigma,
                        "outcome": p.outcome.value} for p in g.peaks]} for g in result]


def _print(result: list[GroupAssessment], *, title: str) -> None:
    sources = sorted({g.geometry_source for g in result})
    console.print(f"group geometry: {'; '.join(sources)}")
    rows = [[g.group_id, "ok" if g.assessed else g.outcome.value] + [getattr(g.metrics, c) for c in METRIC_COLUMNS]
            for g in result]
    print_table(title, ["group", "outcome"] + METRIC_COLUMNS, rows)
    for g in result:
        if not g.assessed:
            console.print(f"group {g.group_id} (spectrum {g.spectrum_number}): {g.outcome.value}: {g.reason}",
                          markup=False, highlight=False, soft_wrap=True)


def assess(
    focused: Path = typer.Argument(..., help="Mantid NXprocessed file of focused spectra (dSpacing or TOF)"),
    sample: str = typer.Option(..., "--sample", help="Calibrant sample name, JSON file or NCrystal material"),
    profile: str = typer.Option(ASSESS_FIT.profile, "--profile", help="gaussian|b2b"),
    fwhm_left: float = typer.Option(ASSESS_PEAKS.fwhm_multiplier_left, "--fwhm-left", help="Window below d, in FWHM"),
    fwhm_right: float = typer.Option(ASSESS_PEAKS.fwhm_multiplier_right, "--fwhm-right", help="Window above d, in FWHM"),
    grouping: str | None = typer.Option(None, "--grouping", help="Column|Bank|All|FILE the spectra were focused "
                                           "with (for files without detector geometry)"),
    lite: bool | None = typer.Option(None, "--lite/--native", help="The grouping's pixels: Lite or native"),
    run: int | None = typer.Option(None, "--run", help="Detector state from this run's event file"),
    arc: tuple[float, float] | None = typer.Option(None, "--arc", help="det_arc1 det_arc2 (deg)"),
    lin: tuple[float, float] | None = typer.Option(None, "--lin", help="det_lin1 det_lin2 (m)"),
    wavelength: float | None = typer.Option(None, "--wavelength", help="Central wavelength (A); default: the "
                                               "state's, else the file's logs"),
    state_id: str | None = typer.Option(None, "--state", help="Detector state recorded by the calibration store"),
    json_out: bool = typer.Option(False, "--json", help="JSON: one object per group"),
) -> None:
    """Fit the calibrant's peaks in every focused group and report sigma/d, strain and more."""
    peaks = ASSESS_PEAKS.model_copy(update={"fwhm_multiplier_left": fwhm_left, "fwhm_multiplier_right": fwhm_right})
    fit = ASSESS_FIT.model_copy(update={"profile": profile})
    ws = read_focused_workspace(focused)
    groups = given_groups(ws, grouping=grouping, lite=lite, run=run, state_id=state_id, arc=arc, lin=lin,
                          wavelength=wavelength)
    result = assess_workspace(ws, reflections=calibrant_reflections(load_sample(sample)), peak_settings=peaks,
                              fit_settings=fit, groups=groups)
    if json_out:
        print_json(_json(result))
        return
    _print(result, title=f"{focused.name} against {sample}")
