"""Load a run's events into memory: native or Lite, cropped to the TOF band of its state.

Run -> IPTS -> file (a Lite copy when present and Lite is wanted, else the raw file) -> one
pass over the stored chunks of every detector bank present, on all cores
(:mod:`~snapcal_core.data.event_pass`): each chunk is inflated and, in the same pass, cropped to
the per-pixel TOF band without the prompt pulse, mapped native -> Lite, and given its pulse
(``with_pulses``), straight into arrays allocated once; ids beyond the instrument are dropped and
counted. A native file's ids are read (and counted for the pixel screening) first, then its TOFs
in the cropping pass. Nothing is written unless ``write_lite`` asks for the Lite copy, and then
only after a successful load, atomically.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from snapcal_core.constants import L1_M, LITE_BLOCK, LITE_PIXELS_PER_SIDE, N_NATIVE_PIXELS, N_PANELS
from snapcal_core.data.band_kernel import Band, make_band
from snapcal_core.data.crop_pass import crop_into
from snapcal_core.data.event_pass import read_into
from snapcal_core.data.lite_kernel import events_to_lite
from snapcal_core.data.locate import locate_run
from snapcal_core.data.nexus import EventFileWriter
from snapcal_core.data.pulses import event_pulses
from snapcal_core.data.read import EventSource, FileHeader, event_source, read_events
from snapcal_core.data.screen import ScreenSettings, reason_counts, screen_native
from snapcal_core.data.state import state_logs
from snapcal_core.errors import CorruptFileError, NoEventsInBandError, RunNotFoundError, SnapcalError
from snapcal_core.instrument.band import tof_band_us
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.prompt_pulse import PromptPulseSettings, prompt_pulse_times_us
from snapcal_core.models import DetectorState, EventData, RunMetadata, validate_run_number
from snapcal_core.settings import SnapcalSettings, get_settings

__all__ = ["event_pulses", "load_event_file", "load_run", "pixel_band_us", "read_event_file", "write_lite_file"]


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


def _metadata(header: FileHeader, *, run: int, ipts: int, n_out_of_range: int, n_prompt: int = 0,
              pulse_time_offset: str = "") -> RunMetadata:
    return RunMetadata(run_number=run, ipts=ipts, title=header.title, start_time=header.start_time,
                       end_time=header.end_time, proton_charge=header.proton_charge, state=header.state,
                       raw_path=str(header.path), n_events_in_file=header.n_events,
                       n_events_out_of_range=n_out_of_range, n_prompt_pulse_events=n_prompt,
                       n_error_events=header.n_error_events,
                       n_unmapped_events=header.n_unmapped_events, missing_banks=header.missing_banks,
                       pulse_time_offset=pulse_time_offset)


def _refuse_mismatch(header: FileHeader, path: Path, *, file_lite: bool, lite_requested: bool,
                     run_number: int | None) -> None:
    if file_lite and not lite_requested:
        raise SnapcalError(f"{path} is a Lite copy (Lite pixel ids): native events cannot be loaded from it")
    if run_number is not None and header.run_number not in (None, run_number):
        raise CorruptFileError(f"{path} holds run {header.run_number}, not run {run_number}")


def _no_events_in_band(header: FileHeader, *, run: int, lo_us: np.ndarray, hi_us: np.ndarray,
                       n_out_of_range: int) -> NoEventsInBandError:
    beyond = f", {n_out_of_range} of them with ids beyond the {lo_us.size} pixels," if n_out_of_range else ""
    return NoEventsInBandError(
        f"run {run} ({header.path}): none of its {header.n_events} events{beyond} lies in the TOF band of its "
        f"state {header.state.state_id()} ({float(lo_us.min()):.0f}-{float(hi_us.max()):.0f} us)"
    )


class _Output:
    """The final event arrays of a load, allocated once; the only holder of them until trimmed."""

    def __init__(self, n_events: int, *, with_pulses: bool) -> None:
        self.pixel = np.empty(n_events, np.uint32)
        self.tof_us = np.empty(n_events, np.float32)
        self.pulse = np.empty(n_events if with_pulses else 0, np.uint32)

    def trim(self, n: int) -> None:
        """Keep the first ``n`` events and give the memory beyond them back, in place (``resize``
        reallocates without copying when nothing else refers to the array; else a copy is kept)."""
        for name in ("pixel", "tof_us", "pulse"):
            if getattr(self, name).size > n:
                try:
                    getattr(self, name).resize(n, refcheck=True)
                except ValueError:
                    setattr(self, name, getattr(self, name)[:n].copy())


class _Crop:
    """The crop of a load, worked out on the calling thread while the worker threads read: the
    state's band, the prompt pulses and, for a native file, the screening of its pixels."""

    def __init__(self, header: FileHeader, *, file_lite: bool, to_lite: bool, prompt_pulse: PromptPulseSettings,
                 screen: ScreenSettings) -> None:
        self.header, self.file_lite, self.to_lite = header, file_lite, to_lite
        self.prompt_pulse, self.screen = prompt_pulse, screen
        self.counts = None if file_lite or not screen.screen else np.zeros(N_NATIVE_PIXELS, np.int64)
        self.reason: np.ndarray | None = None  # MaskReason of every native pixel (native files)
        self.lo_us: np.ndarray | None = None
        self.hi_us: np.ndarray | None = None

    def state_band(self) -> None:
        self.lo_us, self.hi_us = _state_band(self.header.state, lite=self.file_lite)

    def band(self) -> Band:
        """The :class:`Band` (after :meth:`state_band`, and the ids pass when counting)."""
        if self.lo_us is None:
            self.state_band()
        lo, hi = self.lo_us, self.hi_us
        assert lo is not None and hi is not None  # state_band() ran
        if not self.file_lite:  # screening off: screen_native's answer is "nothing", no counts needed
            self.reason = (screen_native(self.counts, self.screen) if self.counts is not None
                           else np.zeros(N_NATIVE_PIXELS, np.uint8))
        prompt = prompt_pulse_times_us(tof_min_us=float(lo.min()), tof_max_us=float(hi.max()),
                                       settings=self.prompt_pulse)
        # pixels without events: moot (reason is set whenever counts are: a native file)
        drop = None if self.counts is None or self.reason is None else (self.reason > 0) & (self.counts > 0)
        return make_band(lo_us=lo, hi_us=hi, prompt_us=prompt, prompt_width_us=self.prompt_pulse.width_us,
                         to_lite=self.to_lite, drop=drop)

    def message_band_us(self) -> tuple[np.ndarray, np.ndarray]:
        """The band with every screened pixel's emptied (for messages; after :meth:`band`)."""
        assert self.lo_us is not None and self.hi_us is not None
        if self.reason is None or not self.reason.any():
            return self.lo_us, self.hi_us
        return np.where(self.reason > 0, np.inf, self.lo_us), np.where(self.reason > 0, -np.inf, self.hi_us)


def _load(source: EventSource, *, lite_requested: bool, file_is_lite: bool | None, ipts: int,
          run_number: int | None, with_pulses: bool, prompt_pulse: PromptPulseSettings,
          screen: ScreenSettings) -> EventData:
    """:func:`load_event_file` on an open file."""
    header = source.header
    file_lite = bool(header.lite) if file_is_lite is None else file_is_lite
    _refuse_mismatch(header, header.path, file_lite=file_lite, lite_requested=lite_requested, run_number=run_number)
    run = run_number or header.run_number or 0
    crop = _Crop(header, file_lite=file_lite, to_lite=lite_requested and not file_lite, prompt_pulse=prompt_pulse,
                 screen=screen)
    out = _Output(header.n_events, with_pulses=with_pulses)
    if crop.counts is not None:  # the ids first, counted for the screening (the band meanwhile)
        read_into(source.chunk_file, source.banks, ids=out.pixel, tof_us=None, counts=crop.counts,
                  alongside=crop.state_band)
    kept = crop_into(source.chunk_file, source.banks, crop.band, pixel=out.pixel, tof_us=out.tof_us,
                     pulse=out.pulse, ids_read=crop.counts is not None)
    out.trim(kept.n_kept)
    if kept.n_kept == 0:
        lo, hi = crop.message_band_us()
        raise _no_events_in_band(header, run=run, lo_us=lo, hi_us=hi, n_out_of_range=kept.n_bad)
    meta = _metadata(header, run=run, ipts=ipts, n_out_of_range=kept.n_bad, n_prompt=kept.n_prompt,
                     pulse_time_offset=source.pulse_offset)
    reason = crop.reason
    if reason is not None:
        n_screened = int(crop.counts[reason > 0].sum()) if crop.counts is not None else 0
        meta = meta.model_copy(update={"screened_native_pixels": reason_counts(reason),
                                       "n_screened_events": n_screened})
    return EventData(pixel=out.pixel, tof_us=out.tof_us, lite=lite_requested, metadata=meta,
                     pulse_index=out.pulse if with_pulses else None, pulse_time_s=source.pulse_time_s,
                     native_mask_reason=reason if reason is not None and reason.any() else None)


def load_event_file(
    path: Path | str, *, lite_requested: bool, file_is_lite: bool | None = None, ipts: int = 0,
    run_number: int | None = None, with_pulses: bool = False, prompt_pulse: PromptPulseSettings = PromptPulseSettings(),
    screen: ScreenSettings = ScreenSettings(),
) -> EventData:
    """Events of one file, cropped to the state's per-pixel TOF band without the prompt pulse, as
    Lite ids if requested.

    ``file_is_lite`` defaults to the file's ``pixel_mode`` attribute (native when absent). With
    ``run_number`` given, a file that says it holds another run is a :class:`CorruptFileError`.
    Events with ids beyond the instrument's pixels (native 1,179,648, Lite 18,432) are dropped
    and counted in ``metadata.n_events_out_of_range``. ``with_pulses`` also reads the pulses and
    fills ``pulse_index`` / ``pulse_time_s`` (a Lite copy written by snapcal holds evenly spread,
    not measured, pulses). The prompt pulse (:mod:`~snapcal_core.instrument.prompt_pulse`, at
    every pulse time inside the state's TOF band) is removed in the same pass and counted in
    ``metadata.n_prompt_pulse_events``. The native pixels of a native file are screened by their
    counts first (:mod:`~snapcal_core.data.screen`): the faulty ones' events are dropped in the
    same pass, their reasons kept in ``native_mask_reason`` and counted in
    ``metadata.screened_native_pixels``. The events are in file order, bank after bank.
    """
    with event_source(path, with_pulses=with_pulses) as source:
        return _load(source, lite_requested=lite_requested, file_is_lite=file_is_lite, ipts=ipts,
                     run_number=run_number, with_pulses=with_pulses, prompt_pulse=prompt_pulse, screen=screen)


def read_event_file(path: Path | str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Raw ids, TOFs (us) and a metadata dict (incl. ``state``) of an event file, uncropped.

    For the state or metadata alone use :func:`snapcal_core.data.read.read_header` (no events read).
    """
    header, ids, tof_us = read_events(path)
    meta = {"run_number": header.run_number or 0, "title": header.title, "start_time": header.start_time,
            "end_time": header.end_time, "duration_s": header.duration_s, "proton_charge": header.proton_charge,
            "state": header.state, "lite": header.lite, "bank_names": header.bank_names,
            "n_error_events": header.n_error_events, "n_unmapped_events": header.n_unmapped_events}
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
    with_pulses: bool = False,
) -> EventData:
    """Events of a run, cropped to its TOF band, native or Lite.

    Uses the Lite copy when ``lite`` and ``use_lite_file`` and it exists; otherwise reads the raw
    file (and maps to Lite in memory). ``write_lite`` then writes the Lite copy (atomic) from the
    loaded events; nothing is written if loading fails. ``with_pulses`` (see
    :func:`load_event_file`) always reads the raw file: a Lite copy's pulses are not the run's.
    """
    run = validate_run_number(run_number)
    settings = settings or get_settings()
    where = locate_run(run, data_root=settings.data_root)
    if lite and use_lite_file and not with_pulses and where.lite_path.is_file():
        return load_event_file(where.lite_path, lite_requested=True, ipts=where.ipts, run_number=run)
    if not where.raw_path.is_file():
        raise RunNotFoundError(f"run {run}: raw file {where.raw_path} does not exist (data root {settings.data_root})")
    events = load_event_file(where.raw_path, lite_requested=lite, ipts=where.ipts, run_number=run,
                             with_pulses=with_pulses)
    if write_lite:
        write_lite_file(events, where.lite_path)
    return events
