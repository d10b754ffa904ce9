"""Load a run's events into memory: native or Lite, cropped to the TOF band of its state.

Run -> IPTS -> file (a Lite copy when present and Lite is wanted, else the raw file) -> the
events of every detector bank present read into two preallocated arrays -> per-pixel TOF-band
crop (and native -> Lite mapping) in place by a numba kernel, which also drops (and counts) ids
beyond the instrument. ``with_pulses`` also gives each kept event its pulse. Nothing is written
unless ``write_lite`` asks for the Lite copy, and then only after a successful load, atomically.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import numpy as np

from snapcal_core.constants import L1_M, LITE_BLOCK, LITE_PIXELS_PER_SIDE, N_PANELS
from snapcal_core.data.band_kernel import crop_to_band
from snapcal_core.data.lite_kernel import events_to_lite
from snapcal_core.data.locate import locate_run
from snapcal_core.data.nexus import EventFileWriter
from snapcal_core.data.screen import ScreenSettings, native_counts, reason_counts, screen_native
from snapcal_core.data.read import NO_PULSE, BankPulses, FileHeader, RawEvents, read_events, read_raw_events
from snapcal_core.data.state import state_logs
from snapcal_core.errors import CorruptFileError, NoEventsInBandError, RunNotFoundError, SnapcalError
from snapcal_core.instrument.band import tof_band_us
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.prompt_pulse import PromptPulseSettings, prompt_pulse_times_us
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


def _metadata(header: FileHeader, *, run: int, ipts: int, n_out_of_range: int, n_prompt: int = 0,
              pulse_time_offset: str = "") -> RunMetadata:
    return RunMetadata(run_number=run, ipts=ipts, title=header.title, start_time=header.start_time,
                       end_time=header.end_time, proton_charge=header.proton_charge, state=header.state,
                       raw_path=str(header.path), n_events_in_file=header.n_events,
                       n_events_out_of_range=n_out_of_range, n_prompt_pulse_events=n_prompt,
                       n_error_events=header.n_error_events,
                       n_unmapped_events=header.n_unmapped_events, missing_banks=header.missing_banks,
                       pulse_time_offset=pulse_time_offset)


def _offset_shift_s(offset: str, *, reference: str) -> float:
    """Seconds from ``reference`` to ``offset`` (ISO times); 0 when equal or either cannot be parsed."""
    if offset == reference:
        return 0.0
    try:
        return (dt.datetime.fromisoformat(offset) - dt.datetime.fromisoformat(reference)).total_seconds()
    except (ValueError, TypeError):
        return 0.0


def _pulse_table(times: list[np.ndarray]) -> np.ndarray:
    """Ascending union of the banks' pulse times (the first bank's array when all banks agree)."""
    first = times[0]
    if all(np.array_equal(t, first) for t in times[1:]) and np.all(first[1:] > first[:-1]):
        return first
    return np.unique(np.concatenate(times))


def event_pulses(pulses: tuple[BankPulses, ...], *, n_events: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Each event's pulse as an index into one pulse-time table shared by all banks.

    Returns ``(pulse_index, pulse_time_s, offset)``: ``pulse_index`` uint32 per event of the
    file's concatenated arrays (:data:`NO_PULSE` for a bank without pulses), ``pulse_time_s``
    float64 ascending, seconds after ``offset`` (the first bank's ``event_time_zero`` offset;
    banks with another offset are shifted onto it). ``pulse_time_s[pulse_index]`` is each
    event's pulse time.
    """
    index = np.full(n_events, NO_PULSE, dtype=np.uint32)
    if not pulses:
        return index, np.empty(0, dtype=np.float64), ""
    offset = pulses[0].offset
    times = [b.time_zero_s + _offset_shift_s(b.offset, reference=offset) for b in pulses]
    table = _pulse_table(times)
    for bank, bank_times in zip(pulses, times):
        where = np.searchsorted(table, bank_times).astype(np.uint32)
        index[bank.first_event : bank.first_event + bank.n_events] = np.repeat(where, bank.events_per_pulse())
    return index, table, offset


def _in_band(ids: np.ndarray, tof_us: np.ndarray, *, lo_us: np.ndarray, hi_us: np.ndarray,
             prompt_us: np.ndarray, prompt_width_us: float) -> np.ndarray:
    """Boolean mask of the events :func:`crop_to_band` keeps: ``id < n_pixels``, ``lo[id] <= tof <= hi[id]``
    and outside every prompt pulse."""
    valid = ids < lo_us.size
    pixel = np.where(valid, ids, np.uint32(0))
    keep = valid & (lo_us[pixel] <= tof_us) & (tof_us <= hi_us[pixel])
    for t in prompt_us.astype(np.float32):
        keep &= ~((t <= tof_us) & (tof_us <= t + np.float32(prompt_width_us)))
    return keep


def _pulses_in_band(raw: RawEvents, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """``(pulse_index, pulse_time_s, offset)`` of the kept events (see :func:`event_pulses`)."""
    index, times_s, offset = event_pulses(raw.pulses, n_events=raw.event_id.size)
    return index[keep], times_s, offset


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
    fills ``pulse_index`` / ``pulse_time_s`` (off by default: it costs a mask over all events; a
    Lite copy written by snapcal holds evenly spread, not measured, pulses). The prompt pulse
    (:mod:`~snapcal_core.instrument.prompt_pulse`, at every pulse time inside the state's TOF
    band) is removed in the same pass and counted in ``metadata.n_prompt_pulse_events``. The native
    pixels of a native file are screened by their counts first (:mod:`~snapcal_core.data.screen`):
    the faulty ones' events are dropped in the same pass, their reasons kept in
    ``native_mask_reason`` and counted in ``metadata.screened_native_pixels``.
    """
    path = Path(path)
    raw = read_raw_events(path, with_pulses=with_pulses)
    header, ids, tof_us = raw.header, raw.event_id, raw.tof_us
    file_lite = bool(header.lite) if file_is_lite is None else file_is_lite
    _refuse_mismatch(header, path, file_lite=file_lite, lite_requested=lite_requested, run_number=run_number)
    run = run_number or header.run_number or 0
    lo, hi = _state_band(header.state, lite=file_lite)
    prompt = prompt_pulse_times_us(tof_min_us=float(lo.min()), tof_max_us=float(hi.max()), settings=prompt_pulse)
    counts = None if file_lite else native_counts(ids)
    reason = None if counts is None else screen_native(counts, screen)
    if reason is not None and reason.any():
        lo, hi = lo.copy(), hi.copy()
        lo[reason > 0], hi[reason > 0] = np.inf, -np.inf  # the band crop drops their events
    pulse_index, pulse_time_s, pulse_offset = (
        _pulses_in_band(raw, _in_band(ids, tof_us, lo_us=lo, hi_us=hi, prompt_us=prompt,
                                      prompt_width_us=prompt_pulse.width_us)) if with_pulses else (None, None, "")
    )  # the mask is taken before the in-place crop below moves the events
    n_kept, n_out, n_prompt = crop_to_band(ids, tof_us, lo_us=lo, hi_us=hi, to_lite=lite_requested and not file_lite,
                                           prompt_us=prompt, prompt_width_us=prompt_pulse.width_us)
    if n_kept == 0:
        raise _no_events_in_band(header, run=run, lo_us=lo, hi_us=hi, n_out_of_range=n_out)
    keep_views = n_kept >= _COPY_BELOW_KEPT_FRACTION * ids.size
    pixel = ids[:n_kept] if keep_views else ids[:n_kept].copy()
    tof = tof_us[:n_kept] if keep_views else tof_us[:n_kept].copy()
    meta = _metadata(header, run=run, ipts=ipts, n_out_of_range=n_out, n_prompt=n_prompt,
                     pulse_time_offset=pulse_offset)
    if reason is not None:
        meta = meta.model_copy(update={"screened_native_pixels": reason_counts(reason),
                                       "n_screened_events": int(counts[reason > 0].sum())})
    return EventData(pixel=pixel, tof_us=tof, lite=lite_requested, metadata=meta, pulse_index=pulse_index,
                     pulse_time_s=pulse_time_s, native_mask_reason=reason if reason is not None and reason.any() else None)


def read_event_file(path: Path | str) -> tuple[np.ndarray, np.ndarray, dict]:
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
