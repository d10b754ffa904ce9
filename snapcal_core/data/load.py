"""Load a run's events into memory: native or Lite, cropped to the TOF band of its state.

Run -> IPTS -> file (a Lite copy when present and Lite is wanted, else the raw file) -> all 18
banks read into two preallocated arrays -> per-pixel TOF-band crop (and native -> Lite mapping)
in place by a numba kernel. Nothing is written unless ``write_lite`` asks for the Lite copy, and
then only after a successful load, atomically.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import numpy as np

from snapcal_core.constants import (
    L1_M,
    LITE_BLOCK,
    LITE_PIXELS_PER_SIDE,
    N_LITE_PIXELS,
    N_NATIVE_PIXELS,
    N_PANELS,
)
from snapcal_core.data.band_kernel import crop_to_band
from snapcal_core.data.lite_kernel import events_to_lite
from snapcal_core.data.locate import locate_run
from snapcal_core.data.nexus import EventFileWriter
from snapcal_core.data.read import FileHeader, read_events
from snapcal_core.data.state import state_logs
from snapcal_core.errors import CorruptFileError, NoEventsInBandError, RunNotFoundError, SnapcalError
from snapcal_core.instrument.band import tof_band_us
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.models import DetectorState, EventData, RunMetadata, validate_run_number
from snapcal_core.settings import SnapcalSettings, get_settings

#: Below this kept fraction the cropped events are copied out, so the dropped ones free their memory.
_COPY_BELOW_KEPT_FRACTION = 0.9


@lru_cache(maxsize=8)
def pixel_band_us(
    *, arc_deg: tuple[float, float], lin_m: tuple[float, float], wavelength_angstrom: float, lite: bool
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-pixel TOF band ``(lo, hi)`` in us (float32, read-only; cached per state).

    Native pixel p: :math:`T = (m_n/h)\,(L_1 + L_2(p))\,\lambda` at both edges of the wavelength
    band (:func:`~snapcal_core.instrument.band.tof_band_us`). A Lite pixel's band is the union of
    the bands of its 8x8 native pixels, so events cropped per native pixel all stay in it.
    """
    geometry = snap_geometry(arc_deg=arc_deg, lin_m=lin_m, lite=False)
    lo, hi = tof_band_us(l_total_m=L1_M + geometry.l2_m, wavelength_angstrom=wavelength_angstrom)
    if lite:
        shape = (N_PANELS, LITE_PIXELS_PER_SIDE, LITE_BLOCK, LITE_PIXELS_PER_SIDE, LITE_BLOCK)  # panel, ix, dx, iy, dy
        lo = lo.reshape(shape).min(axis=(2, 4)).ravel()
        hi = hi.reshape(shape).max(axis=(2, 4)).ravel()
    out = (np.asarray(lo, dtype=np.float32), np.asarray(hi, dtype=np.float32))
    for a in out:
        a.setflags(write=False)
    return out


def _state_band(state: DetectorState, *, lite: bool) -> tuple[np.ndarray, np.ndarray]:
    return pixel_band_us(arc_deg=tuple(state.arc_deg), lin_m=tuple(state.lin_m),
                         wavelength_angstrom=float(state.wavelength_angstrom), lite=lite)


def _check_ids(ids: np.ndarray, *, n_pixels: int, path: Path) -> None:
    if ids.size and int(ids.max()) >= n_pixels:
        raise CorruptFileError(f"{path}: event id {int(ids.max())} is beyond the {n_pixels} pixels of the instrument")


def _metadata(header: FileHeader, *, run: int, ipts: int) -> RunMetadata:
    return RunMetadata(run_number=run, ipts=ipts, title=header.title, start_time=header.start_time,
                       end_time=header.end_time, proton_charge=header.proton_charge, state=header.state,
                       raw_path=str(header.path))


def load_event_file(
    path: Path | str, *, lite_requested: bool, file_is_lite: bool | None = None, ipts: int = 0,
    run_number: int | None = None,
) -> EventData:
    """Events of one file, cropped to the state's per-pixel TOF band, as Lite ids if requested.

    ``file_is_lite`` defaults to the file's ``pixel_mode`` attribute (native when absent). With
    ``run_number`` given, a file that says it holds another run is a :class:`CorruptFileError`.
    """
    path = Path(path)
    header, ids, tof_us = read_events(path)
    file_lite = bool(header.lite) if file_is_lite is None else file_is_lite
    if file_lite and not lite_requested:
        raise SnapcalError(f"{path} is a Lite copy (Lite pixel ids): native events cannot be loaded from it")
    if run_number is not None and header.run_number not in (None, run_number):
        raise CorruptFileError(f"{path} holds run {header.run_number}, not run {run_number}")
    run = run_number or header.run_number or 0
    _check_ids(ids, n_pixels=N_LITE_PIXELS if file_lite else N_NATIVE_PIXELS, path=path)
    lo, hi = _state_band(header.state, lite=file_lite)
    n_kept, _ = crop_to_band(ids, tof_us, lo_us=lo, hi_us=hi, to_lite=lite_requested and not file_lite)
    if n_kept == 0:
        raise NoEventsInBandError(
            f"run {run} ({path}): none of its {header.n_events} events lies in the TOF band of its state "
            f"{header.state.state_id()} ({float(lo.min()):.0f}-{float(hi.max()):.0f} us)"
        )
    keep_views = n_kept >= _COPY_BELOW_KEPT_FRACTION * ids.size
    pixel = ids[:n_kept] if keep_views else ids[:n_kept].copy()
    tof = tof_us[:n_kept] if keep_views else tof_us[:n_kept].copy()
    return EventData(pixel=pixel, tof_us=tof, lite=lite_requested, metadata=_metadata(header, run=run, ipts=ipts))


def read_event_file(path: Path | str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Raw ids, TOFs (us) and a metadata dict (incl. ``state``) of an event file, uncropped.

    For the state or metadata alone use :func:`snapcal_core.data.read.read_header` (no events read).
    """
    header, ids, tof_us = read_events(path)
    meta = {"run_number": header.run_number or 0, "title": header.title, "start_time": header.start_time,
            "end_time": header.end_time, "duration_s": header.duration_s, "proton_charge": header.proton_charge,
            "state": header.state, "lite": header.lite}
    return ids, tof_us, meta


def _duration_s(meta: RunMetadata) -> float:
    """Run duration from start and end time; 1 s when they are missing or malformed."""
    try:
        end, start = dt.datetime.fromisoformat(meta.end_time), dt.datetime.fromisoformat(meta.start_time)
        seconds = (end - start).total_seconds()
    except ValueError:
        return 1.0
    return seconds if seconds > 0 else 1.0


def write_lite_file(events: EventData, path: Path | str) -> Path:
    """Write ``events`` (native ones are mapped to Lite) as a Lite copy, atomically; returns its path."""
    meta = events.metadata
    pixel = events.pixel if events.lite else events_to_lite(events.pixel)
    with EventFileWriter(
        path, run_number=meta.run_number, title=meta.title, start_time=meta.start_time or "1970-01-01T00:00:00",
        duration_s=_duration_s(meta), proton_charge=meta.proton_charge, das_logs=state_logs(meta.state), lite=True,
    ) as writer:
        writer.append(pixel, events.tof_us)
    return Path(path)


def load_run(
    run_number: object,
    *,
    lite: bool,
    settings: SnapcalSettings | None = None,
    use_lite_file: bool = True,
    write_lite: bool = False,
) -> EventData:
    """Events of a run, cropped to its TOF band, native or Lite.

    Uses the Lite copy when ``lite`` and ``use_lite_file`` and it exists; otherwise reads the raw
    file (and maps to Lite in memory). ``write_lite`` then writes the Lite copy (atomic) from the
    loaded events; nothing is written if loading fails.
    """
    run = validate_run_number(run_number)
    settings = settings or get_settings()
    where = locate_run(run, data_root=settings.data_root)
    if lite and use_lite_file and where.lite_path.is_file():
        return load_event_file(where.lite_path, lite_requested=True, ipts=where.ipts, run_number=run)
    if not where.raw_path.is_file():
        raise RunNotFoundError(f"run {run}: raw file {where.raw_path} does not exist (data root {settings.data_root})")
    events = load_event_file(where.raw_path, lite_requested=lite, ipts=where.ipts, run_number=run)
    if write_lite:
        write_lite_file(events, where.lite_path)
    return events
