"""Load a run's events into memory: native or Lite, cropped to the TOF band of its state."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import h5py
import numpy as np

from snapcal_core.constants import L1_M, N_LITE_PIXELS, N_NATIVE_PIXELS
from snapcal_core.data.kernels import band_mask, events_to_lite
from snapcal_core.data.locate import find_ipts, lite_file_path, raw_file_path
from snapcal_core.data.nexus import BANK_NAMES, EventFileWriter
from snapcal_core.data.state import read_state, state_logs
from snapcal_core.errors import CorruptFileError, MissingBankError, NoEventsInBandError, RunNotFoundError
from snapcal_core.instrument.band import tof_band_us
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.models import DetectorState, EventData, RunMetadata, validate_run_number
from snapcal_core.settings import SnapcalSettings, get_settings


@lru_cache(maxsize=4)
def _pixel_band(arc: tuple[float, float], lin: tuple[float, float], wavelength: float, lite: bool):
    geometry = snap_geometry(arc_deg=arc, lin_m=lin, lite=lite)
    return tof_band_us(l_total_m=L1_M + geometry.l2_m, wavelength_angstrom=wavelength)


def _text(entry: h5py.Group, name: str) -> str:
    if name not in entry:
        return ""
    value = np.asarray(entry[name][()]).ravel()
    item = value[0] if value.size else b""
    return item.decode() if isinstance(item, bytes) else str(item)


def _read_banks(entry: h5py.Group, path: Path) -> tuple[np.ndarray, np.ndarray]:
    ids, tofs = [], []
    for name in BANK_NAMES:
        group = entry.get(f"{name}_events")
        if group is None or "event_id" not in group or "event_time_offset" not in group:
            raise MissingBankError(f"{path}: bank '{name}_events' (with event_id and event_time_offset) is missing")
        ids.append(group["event_id"][()].astype(np.uint32, copy=False))
        tofs.append(group["event_time_offset"][()].astype(np.float32, copy=False))
    return np.concatenate(ids), np.concatenate(tofs)


def read_event_file(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Raw ids, TOFs and a metadata dict of an event file; typed errors for unreadable files."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if "entry" not in f:
                raise CorruptFileError(f"{path} has no /entry group: not a NeXus event file")
            entry = f["entry"]
            ids, tofs = _read_banks(entry, path)
            state = read_state(entry, source=str(path))
            meta = {
                "run_number": _text(entry, "run_number"),
                "title": _text(entry, "title"),
                "start_time": _text(entry, "start_time"),
                "end_time": _text(entry, "end_time"),
                "proton_charge": float(np.asarray(entry["proton_charge"][()]).ravel()[0])
                if "proton_charge" in entry
                else 0.0,
                "state": state,
            }
    except (OSError, KeyError, ValueError) as exc:
        raise CorruptFileError(f"cannot read event file {path}: {exc}") from exc
    return ids, tofs, meta


def load_event_file(path: Path, *, lite_requested: bool, file_is_lite: bool = False, ipts: int = 0) -> EventData:
    """Events of one file, converted to Lite if requested and cropped to the state's TOF band."""
    ids, tofs, meta = read_event_file(path)
    state: DetectorState = meta["state"]
    n_max = N_LITE_PIXELS if file_is_lite else N_NATIVE_PIXELS
    if ids.size and int(ids.max()) >= n_max:
        raise CorruptFileError(f"{path}: event id {int(ids.max())} is beyond the {n_max} pixels of the instrument")
    lo, hi = _pixel_band(tuple(state.arc_deg), tuple(state.lin_m), state.wavelength_angstrom, file_is_lite)
    keep = band_mask(ids, tofs, lo_us=lo, hi_us=hi)
    ids, tofs = ids[keep], tofs[keep]
    run = int(meta["run_number"]) if str(meta["run_number"]).isdigit() else 0
    if ids.size == 0:
        raise NoEventsInBandError(f"run {run} ({path}): no event inside the TOF band of its state")
    if lite_requested and not file_is_lite:
        ids = events_to_lite(ids)
    metadata = RunMetadata(
        run_number=run, ipts=ipts, title=meta["title"], start_time=meta["start_time"], end_time=meta["end_time"],
        proton_charge=meta["proton_charge"], state=state, raw_path=str(path),
    )
    return EventData(pixel=ids, tof_us=tofs, lite=lite_requested or file_is_lite, metadata=metadata)


def write_lite_file(events: EventData, path: Path, *, duration_s: float = 1.0) -> Path:
    """Write Lite events as a Lite copy (atomic)."""
    meta = events.metadata
    with EventFileWriter(
        path, run_number=meta.run_number, title=meta.title, start_time=meta.start_time or "1970-01-01T00:00:00",
        duration_s=duration_s, proton_charge=meta.proton_charge, das_logs=state_logs(meta.state), lite=True,
    ) as writer:
        writer.append(events.pixel, events.tof_us)
    return path


def load_run(
    run_number: object,
    *,
    lite: bool,
    settings: SnapcalSettings | None = None,
    use_lite_file: bool = True,
    write_lite: bool = False,
) -> EventData:
    """Events of a run: resolves IPTS and file; uses a Lite copy when present and wanted."""
    run = validate_run_number(run_number)
    settings = settings or get_settings()
    ipts = find_ipts(run, data_root=settings.data_root)
    lite_path = lite_file_path(settings.data_root, ipts=ipts, run_number=run)
    if lite and use_lite_file and lite_path.is_file():
        return load_event_file(lite_path, lite_requested=True, file_is_lite=True, ipts=ipts)
    raw = raw_file_path(settings.data_root, ipts=ipts, run_number=run)
    if not raw.is_file():
        raise RunNotFoundError(f"run {run}: raw file {raw} does not exist")
    events = load_event_file(raw, lite_requested=lite, ipts=ipts)
    if lite and write_lite:
        write_lite_file(events, lite_path)
    return events
