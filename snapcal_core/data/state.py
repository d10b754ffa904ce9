"""Instrument state from the DAS logs of a NeXus file (last value of each PV, with fallbacks)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from snapcal_core.data.event_file import open_event_file
from snapcal_core.errors import MissingLogError
from snapcal_core.models import DetectorState

#: State field -> PVs tried in order (SCIENCE.md "Instrument state and its id").
STATE_PVS: dict[str, tuple[str, ...]] = {
    "arc1": ("det_arc1",),
    "arc2": ("det_arc2",),
    "lin1": ("det_lin1",),
    "lin2": ("det_lin2",),
    "wavelength": ("BL3:Chop:Skf1:WavelengthUserReq", "BL3:Chop:Gbl:WavelengthReq", "BL3:Det:TH:BL:Lambda"),
    "frequency": ("BL3:Det:TH:BL:Frequency",),
    "guide": ("BL3:Mot:OpticsPos:Pos", "optics"),
}


def _last_finite(logs: h5py.Group | None, name: str) -> float | None:
    """Last value of ``DASlogs/<name>/value`` if present and finite, else None."""
    log = logs.get(name) if logs is not None else None
    value = log.get("value") if isinstance(log, h5py.Group) else None
    if not isinstance(value, h5py.Dataset):
        return None
    values = np.asarray(value[()]).ravel()
    if not values.size:
        return None
    try:
        last = float(values[-1])
    except (TypeError, ValueError):
        return None
    return last if np.isfinite(last) else None


def last_log_value(logs: h5py.Group | None, names: tuple[str, ...], *, source: str) -> float:
    """Last value of the first of ``names`` present; MissingLogError names the PV, fallbacks and file."""
    for name in names:
        value = _last_finite(logs, name)
        if value is not None:
            return value
    tried = f" (tried: {', '.join(names)})" if len(names) > 1 else ""
    raise MissingLogError(f"DAS log {names[0]!r} is missing or has no finite value in {source}{tried}")


def read_state(entry: h5py.Group, *, source: str) -> DetectorState:
    """Detector state from ``entry/DASlogs``; :class:`MissingLogError` names the PV and the file."""
    logs = entry.get("DASlogs")
    logs = logs if isinstance(logs, h5py.Group) else None
    v = {field: last_log_value(logs, pvs, source=source) for field, pvs in STATE_PVS.items()}
    return DetectorState(
        arc_deg=(v["arc1"], v["arc2"]),
        lin_m=(v["lin1"], v["lin2"]),
        wavelength_angstrom=v["wavelength"],
        frequency_hz=v["frequency"],
        guide=int(round(v["guide"])),
    )


def read_state_file(path: Path | str) -> DetectorState:
    """Detector state of an event file (reads only its DAS logs)."""
    with open_event_file(path) as entry:
        return read_state(entry, source=str(path))


def state_logs(state: DetectorState) -> dict[str, float]:
    """DAS logs (first PV of each field) that encode ``state``; used when writing files."""
    return {
        "det_arc1": state.arc_deg[0],
        "det_arc2": state.arc_deg[1],
        "det_lin1": state.lin_m[0],
        "det_lin2": state.lin_m[1],
        "BL3:Chop:Skf1:WavelengthUserReq": state.wavelength_angstrom,
        "BL3:Det:TH:BL:Frequency": state.frequency_hz,
        "BL3:Mot:OpticsPos:Pos": float(state.guide),
    }
