"""Simulate a SNAP calibrant run: event file in the facility tree plus its truth beside it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from snapcal_core.calibrant.reflections import reflections
from snapcal_core.constants import (
    L1_M,
    N_PANELS,
    PIXELS_PER_PANEL,
    REFERENCE_ARC_DEG,
    REFERENCE_FREQUENCY_HZ,
    REFERENCE_GUIDE,
    REFERENCE_LIN_M,
    REFERENCE_WAVELENGTH_ANGSTROM,
    TOF_PER_M_ANGSTROM_US,
)
from snapcal_core.data.locate import raw_file_path
from snapcal_core.data.nexus import EventFileWriter, pulse_count
from snapcal_core.data.state import state_logs
from snapcal_core.errors import SnapcalError
from snapcal_core.instrument.band import wavelength_band_angstrom
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.io.diffcal import DiffCalTable, write_diffcal
from snapcal_core.models import DetectorState, validate_run_number
from snapcal_core.settings import SnapcalSettings, get_settings
from snapcal_core.simulate import physics
from snapcal_core.simulate.kernels import bragg_tof_kernel
from snapcal_core.simulate.nuisances import Nuisances, plan_nuisances
from snapcal_core.simulate.truth import perturbed_truth, truth_path

#: Calibrant names the simulator knows -> NCrystal material.
SAMPLE_MATERIALS = {
    "diamond": "stdlib::C_sg227_Diamond.ncmat",
    "silicon": "stdlib::Si_sg227.ncmat",
    "ceria": "stdlib::CeO2_sg225_CeriumOxide.ncmat",
}
SAMPLE_TITLES = {"diamond": "Diamond", "silicon": "Silicon NIST 640d", "ceria": "CeO2 NIST 674b"}
BACKGROUND_FRACTION = 0.25
CHUNK_EVENTS = 1 << 22
EVENTS_PER_SECOND_OF_BEAM = 2e5


class SimulationExistsError(SnapcalError, FileExistsError):
    """The run to simulate already exists (pass overwrite=True to replace it)."""


class SimulatedRun(BaseModel):
    """What a simulation wrote."""

    run_number: int
    ipts: int
    sample: str
    raw_path: str
    truth_path: str
    state_id: str
    state: DetectorState
    n_events: int = Field(description="Events written into the 18 detector banks (n_events asked for, plus "
                          "the nuisances' hot, burst, edge and prompt events)")
    events_per_panel: list[int] = Field(description="Events written into each of the 18 banks")
    seed: int
    nuisances: Nuisances = Field(default_factory=Nuisances, description="Detector nuisances simulated (none by default)")
    nuisance_events: dict[str, int] = Field(default_factory=dict, description="Events each nuisance added: hot, edge, "
                                            "prompt, burst (detector banks), bank_error_events, bank_unmapped_events")


def _chunk_events(
    rng: np.random.Generator, n: int, *, tables: physics.PixelTables, truth: DiffCalTable, refl_d: np.ndarray,
    refl_intensity: np.ndarray, band: tuple[float, float], lam_grid: np.ndarray, lam_cdf: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One chunk of events (ids, TOF) drawn from independent uniform numbers of ``rng``."""
    n_bg = rng.binomial(n, BACKGROUND_FRACTION)
    n_bragg = n - n_bg
    pixel = np.searchsorted(tables.bragg_cdf, rng.random(n_bragg), side="right").astype(np.uint32)
    tof = np.empty(n_bragg, dtype=np.float64)
    bragg_tof_kernel(
        pixel, rng.random(n_bragg), rng.random(n_bragg), rng.standard_normal(n_bragg), rng.standard_exponential(n_bragg),
        tables.sin_theta, tables.sigma_rel, truth.difc, truth.difa, truth.tzero,
        refl_d, refl_intensity, band[0], band[1], physics.LAMBDA_T_ANGSTROM, physics.EPITHERMAL_SCALE,
        physics.ALPHA_OVER_BETA, tof,
    )
    bg_pixel = np.searchsorted(tables.background_cdf, rng.random(n_bg), side="right").astype(np.uint32)
    lam = np.interp(rng.random(n_bg), lam_cdf, lam_grid)
    bg_tof = TOF_PER_M_ANGSTROM_US * tables.l_total_m[bg_pixel] * lam
    return np.concatenate([pixel, bg_pixel]), np.concatenate([tof, bg_tof]).astype(np.float32)


def simulate_run(
    *,
    run_number: int,
    ipts: int,
    sample: str = "diamond",
    n_events: int = 10_000_000,
    seed: int = 0,
    arc_deg: tuple[float, float] = REFERENCE_ARC_DEG,
    lin_m: tuple[float, float] = REFERENCE_LIN_M,
    wavelength_angstrom: float = REFERENCE_WAVELENGTH_ANGSTROM,
    frequency_hz: float = REFERENCE_FREQUENCY_HZ,
    guide: int = REFERENCE_GUIDE,
    tzero_us: float = 0.0,
    difa: float = 0.0,
    panel_offset_std: float = 2e-3,
    pixel_scatter_std: float = 1e-3,
    compression: str | None = "gzip",
    overwrite: bool = False,
    settings: SnapcalSettings | None = None,
    nuisances: Nuisances | None = None,
) -> SimulatedRun:
    """Write ``SNAP_<run>.nxs.h5`` (native ids) and ``SNAP_<run>.truth.h5`` into the facility tree.

    Deterministic by ``seed``: chunk c draws from ``SeedSequence(seed, spawn_key=(c,))``.
    ``nuisances`` (:class:`~snapcal_core.simulate.nuisances.Nuisances`, none by default) adds dead,
    hot and bursting pixels, noisy edges, efficiency, the prompt pulse and error/unmapped events,
    from streams of their own; the truth then also holds ``nuisance``, ``efficiency`` and
    ``hot_rate`` per pixel (:func:`~snapcal_core.simulate.truth.truth_nuisance`). Without any, the
    files are those of a perfect detector, unchanged.
    """
    run_number = validate_run_number(run_number)
    ipts = validate_run_number(ipts)
    if sample not in SAMPLE_MATERIALS:
        raise SnapcalError(f"unknown simulated sample {sample!r}; known: {', '.join(SAMPLE_MATERIALS)}")
    if n_events <= 0:
        raise SnapcalError(f"number of events must be positive, got {n_events}")
    settings = settings or get_settings()
    raw = raw_file_path(settings.data_root, ipts=ipts, run_number=run_number)
    if raw.exists() and not overwrite:
        raise SimulationExistsError(f"run {run_number} already exists at {raw}; pass overwrite to replace it")
    state = DetectorState(arc_deg=arc_deg, lin_m=lin_m, wavelength_angstrom=wavelength_angstrom,
                          frequency_hz=frequency_hz, guide=guide)
    geometry = snap_geometry(arc_deg=arc_deg, lin_m=lin_m)
    truth = perturbed_truth(geometry, seed=seed, panel_offset_std=panel_offset_std,
                            pixel_scatter_std=pixel_scatter_std, tzero_us=tzero_us, difa=difa)
    refl = reflections(SAMPLE_MATERIALS[sample])
    band = wavelength_band_angstrom(wavelength_angstrom=wavelength_angstrom)
    duration = max(1.0, n_events / EVENTS_PER_SECOND_OF_BEAM)
    nuisances = nuisances or Nuisances()
    plan = plan_nuisances(nuisances, seed=seed, n_events=n_events, n_pulses=pulse_count(duration),
                          l_total_m=L1_M + geometry.l2_m, band_angstrom=band) if nuisances.active else None
    tables = physics.pixel_tables(geometry, reflections=refl, arc_deg=arc_deg, wavelength_angstrom=wavelength_angstrom,
                                  efficiency=plan.neutron_efficiency if plan else None)
    lam_grid, lam_cdf = physics.wavelength_cdf(wavelength_angstrom=wavelength_angstrom)
    refl_d = np.array([r.d_angstrom for r in refl])
    refl_intensity = np.array([r.f2_barn * r.multiplicity * r.d_angstrom**4 for r in refl])
    per_panel = np.zeros(N_PANELS, dtype=np.int64)
    added: dict[str, int] = {}
    writer = EventFileWriter(
        raw, run_number=run_number, title=f"{SAMPLE_TITLES[sample]} calibrant (snapcal simulation, seed {seed})",
        start_time=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).isoformat(), duration_s=duration,
        proton_charge=duration * 1.0e13 / 3600.0, das_logs=state_logs(state), compression=compression,
        explicit_pulses=bool(plan and plan.explicit_pulses),
    )
    n_chunks = -(-n_events // CHUNK_EVENTS)
    with writer:
        for c, start in enumerate(range(0, n_events, CHUNK_EVENTS)):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(c,)))
            ids, tof = _chunk_events(rng, min(CHUNK_EVENTS, n_events - start), tables=tables, truth=truth,
                                     refl_d=refl_d, refl_intensity=refl_intensity, band=band,
                                     lam_grid=lam_grid, lam_cdf=lam_cdf)
            pulse = None
            if plan is not None:
                ids, tof, pulse, counts = plan.add_to_chunk(c, n_chunks, ids, tof, background_cdf=tables.background_cdf)
                for name, n in counts.items():
                    added[name] = added.get(name, 0) + n
            per_panel += np.bincount(ids // PIXELS_PER_PANEL, minlength=N_PANELS)
            if pulse is None:
                writer.append(ids, tof)
            else:
                writer.append(ids, tof, pulse)
        if plan is not None:
            if added.get("burst", 0) != plan.burst_id.size:
                raise SnapcalError(f"internal: {added.get('burst', 0)} of {plan.burst_id.size} burst events placed")
            for name, (ids, tof) in plan.diagnostic_events().items():
                writer.add_event_group(name, ids, tof)
                added[name] = int(ids.size)
            truth = dataclasses.replace(truth, extra={**truth.extra, **plan.truth_columns()})
        write_diffcal(truth_path(raw), truth)
    return SimulatedRun(
        run_number=run_number, ipts=ipts, sample=sample, raw_path=str(raw), truth_path=str(truth_path(raw)),
        state_id=state.state_id(), state=state, n_events=int(per_panel.sum()), events_per_panel=per_panel.tolist(),
        seed=seed, nuisances=nuisances, nuisance_events=added,
    )
