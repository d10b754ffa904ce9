"""Simulate a SNAP calibrant run: event file in the facility tree plus its truth beside it.

Both files are written under hidden temporary names and renamed into place at the end, so an
exception (a ``KeyboardInterrupt`` included) leaves nothing behind; a size that does not fit the
free disk space, or more than :data:`MAX_EVENTS`, is refused before anything is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
import shutil
from collections.abc import Callable
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
from snapcal_core.instrument.resolution import ALPHA_OVER_BETA, BETA_T_A_PER_US, BETA_T_B_ANGSTROM4_PER_US
from snapcal_core.io.diffcal import DiffCalTable, write_diffcal
from snapcal_core.models import DetectorState, validate_run_number
from snapcal_core.settings import SnapcalSettings, get_settings
from snapcal_core.simulate import physics
from snapcal_core.simulate.kernels import bragg_tof_kernel
from snapcal_core.simulate.nuisances import NuisancePlan, Nuisances, plan_nuisances
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
#: Largest run simulated (events asked for): ~5 GB on disk, 8 GB of memory to load it, ~20 min to write.
MAX_EVENTS = 1_000_000_000
#: Bytes per event of the event file (ids + TOFs + pulses), measured on diamond runs of 1e6-4e6 events,
#: clean and rough: 5.18-5.37 with gzip level 1 after byte shuffle, 8.12 uncompressed (4e6); any other
#: filter counts as uncompressed.
BYTES_PER_EVENT = {"gzip": 5.4, None: 8.4}
#: Truth file (DIFC/DIFA/TZERO, group, use and nuisance columns of 1,179,648 pixels): 42-53 MB measured.
TRUTH_FILE_BYTES = 64 * 2**20
#: Factor on the estimate when comparing it with the free space (data less compressible than measured).
DISK_MARGIN = 1.25

#: ``progress(events_done, events_total)``, called after each chunk of events is written.
ProgressCallback = Callable[[int, int], None]


class SimulationExistsError(SnapcalError, FileExistsError):
    """The run to simulate already exists (pass overwrite=True to replace it)."""


class SimulationSizeError(SnapcalError, ValueError):
    """The number of events asked for is not positive or is above :data:`MAX_EVENTS`."""


class InsufficientDiskSpaceError(SnapcalError, OSError):
    """The simulated files would not fit the free space of the facility tree's file system."""


def validate_n_events(n_events: int) -> int:
    """``n_events`` as an int in ``1..MAX_EVENTS``; :class:`SimulationSizeError` otherwise."""
    try:
        whole = int(n_events) == n_events and n_events > 0
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole:
        raise SimulationSizeError(f"number of events must be a positive integer, got {n_events!r}")
    if n_events > MAX_EVENTS:
        raise SimulationSizeError(
            f"{n_events:,} events is more than the simulator's limit of {MAX_EVENTS:,} events "
            f"(~{estimated_bytes(MAX_EVENTS) / 1e9:.0f} GB, and about 8 bytes of memory per event to load it); "
            "a real SNAP calibrant run has 1e7-1e8 events")
    return int(n_events)


def estimated_bytes(n_events: int, *, compression: str | None = "gzip") -> int:
    """Disk bytes of a run of ``n_events`` events: event file (``BYTES_PER_EVENT``) plus its truth file."""
    per_event = BYTES_PER_EVENT.get(compression, BYTES_PER_EVENT[None])
    return int(n_events * per_event) + TRUTH_FILE_BYTES


def _free_bytes(path: Path) -> tuple[Path, int]:
    """Free bytes of the file system of ``path`` (or of its nearest existing parent), and that folder."""
    folder = Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder, shutil.disk_usage(folder).free


def check_disk_space(raw: Path, *, n_events: int, compression: str | None) -> None:
    """Refuse (:class:`InsufficientDiskSpaceError`) when ``DISK_MARGIN`` times the estimate exceeds the free space.

    A file being replaced (overwrite) still occupies its space until the new one is renamed over it.
    """
    needed = estimated_bytes(n_events, compression=compression)
    folder, free = _free_bytes(raw.parent)
    if needed * DISK_MARGIN > free:
        raise InsufficientDiskSpaceError(
            f"{n_events:,} events need about {needed / 1e9:.2f} GB for {raw.name} and its truth "
            f"({BYTES_PER_EVENT.get(compression, BYTES_PER_EVENT[None])} bytes/event, compression {compression}; "
            f"{DISK_MARGIN:.2f}x margin: {needed * DISK_MARGIN / 1e9:.2f} GB), but {folder} has only "
            f"{free / 1e9:.2f} GB free")


def _expected_events(n_events: int, plan: NuisancePlan | None) -> int:
    """Events the run will hold: those asked for plus the nuisances' (hot, edge, prompt, burst, diagnostic)."""
    if plan is None:
        return n_events
    s, mean = plan.settings, plan.mean_pixel_events
    extra = (float(plan.hot_rate.sum()) * mean + plan.edge_pixels.size * s.edge_rate * mean + plan.burst_id.size
             + n_events * (s.prompt_fraction + s.error_fraction + s.unmapped_fraction))
    return n_events + int(extra)


def _temporary(path: Path) -> Path:
    """A hidden name beside ``path`` for writing it (the watcher and the readers ignore it)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")


def _remove_own_temporaries(*paths: Path) -> None:
    """Remove what this process left of ``paths``' temporary files (an interrupt between two steps)."""
    for path in paths:
        for leftover in path.parent.glob(f".{path.name}.{os.getpid()}.*"):
            leftover.unlink(missing_ok=True)


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
        BETA_T_A_PER_US, BETA_T_B_ANGSTROM4_PER_US, ALPHA_OVER_BETA, tof,
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
    progress: ProgressCallback | None = None,
) -> SimulatedRun:
    """Write ``SNAP_<run>.nxs.h5`` (native ids) and ``SNAP_<run>.truth.h5`` into the facility tree.

    Deterministic by ``seed``: chunk c draws from ``SeedSequence(seed, spawn_key=(c,))``.
    ``nuisances`` (:class:`~snapcal_core.simulate.nuisances.Nuisances`, none by default) adds dead,
    hot and bursting pixels, noisy edges, efficiency, the prompt pulse and error/unmapped events,
    from streams of their own; the truth then also holds ``nuisance``, ``efficiency`` and
    ``hot_rate`` per pixel (:func:`~snapcal_core.simulate.truth.truth_nuisance`). Without any, the
    files are those of a perfect detector, unchanged.

    Refused before anything is written: more than :data:`MAX_EVENTS` events
    (:class:`SimulationSizeError`), files that would not fit the free disk space
    (:class:`InsufficientDiskSpaceError`). ``progress`` is called after every chunk written.
    """
    run_number = validate_run_number(run_number)
    ipts = validate_run_number(ipts)
    if sample not in SAMPLE_MATERIALS:
        raise SnapcalError(f"unknown simulated sample {sample!r}; known: {', '.join(SAMPLE_MATERIALS)}")
    n_events = validate_n_events(n_events)
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
    check_disk_space(raw, n_events=_expected_events(n_events, plan), compression=compression)
    tables = physics.pixel_tables(geometry, reflections=refl, arc_deg=arc_deg, wavelength_angstrom=wavelength_angstrom,
                                  efficiency=plan.neutron_efficiency if plan else None)
    lam_grid, lam_cdf = physics.wavelength_cdf(wavelength_angstrom=wavelength_angstrom)
    refl_d = np.array([r.d_angstrom for r in refl])
    refl_intensity = np.array([r.f2_barn * r.multiplicity * r.d_angstrom**4 for r in refl])
    per_panel = np.zeros(N_PANELS, dtype=np.int64)
    added: dict[str, int] = {}
    truth_tmp = _temporary(truth_path(raw))
    try:
        writer = EventFileWriter(
            raw, run_number=run_number, title=f"{SAMPLE_TITLES[sample]} calibrant (snapcal simulation, seed {seed})",
            start_time=dt.datetime(2026, 1, 1, tzinfo=dt.UTC).isoformat(), duration_s=duration,
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
                    ids, tof, pulse, counts = plan.add_to_chunk(c, n_chunks, ids, tof,
                                                                background_cdf=tables.background_cdf)
                    for name, n in counts.items():
                        added[name] = added.get(name, 0) + n
                per_panel += np.bincount(ids // PIXELS_PER_PANEL, minlength=N_PANELS)
                if pulse is None:
                    writer.append(ids, tof)
                else:
                    writer.append(ids, tof, pulse)
                if progress is not None:
                    progress(min(n_events, start + CHUNK_EVENTS), n_events)
            if plan is not None:
                if added.get("burst", 0) != plan.burst_id.size:
                    raise SnapcalError(f"internal: {added.get('burst', 0)} of {plan.burst_id.size} burst events placed")
                for name, (ids, tof) in plan.diagnostic_events().items():
                    writer.add_event_group(name, ids, tof)
                    added[name] = int(ids.size)
                truth = dataclasses.replace(truth, extra={**truth.extra, **plan.truth_columns()})
            write_diffcal(truth_tmp, truth)
        os.replace(truth_tmp, truth_path(raw))  # the event file is in place: now its truth beside it
    finally:
        _remove_own_temporaries(raw, truth_path(raw))
    return SimulatedRun(
        run_number=run_number, ipts=ipts, sample=sample, raw_path=str(raw), truth_path=str(truth_path(raw)),
        state_id=state.state_id(), state=state, n_events=int(per_panel.sum()), events_per_panel=per_panel.tolist(),
        seed=seed, nuisances=nuisances, nuisance_events=added,
    )
