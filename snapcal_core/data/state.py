"""Instrument state from the DAS logs of a NeXus file (last value of each PV)."""

from __future__ import annotations

import h5py
import numpy as np

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


def _last_value(logs: h5py.Group | None, names: tuple[str, ...], source: str) -> float:
    for name in names:
        if logs is not None and name in logs and "value" in logs[name]:
            values = np.asarray(logs[name]["value"][()]).ravel()
            if values.size:
                return float(values[-1])
    tried = ", ".join(names)
    raise MissingLogError(f"DAS log {names[0]!r} missing in {source} (tried: {tried})")


def read_state(entry: h5py.Group, *, source: str) -> DetectorState:
    """Detector state from ``entry/DASlogs``; :class:`MissingLogError` names the PV and the file."""
    logs = entry.get("DASlogs")
    v = {field: _last_value(logs, pvs, source) for field, pvs in STATE_PVS.items()}
    return DetectorState(
        arc_deg=(v["arc1"], v["arc2"]),
        lin_m=(v["lin1"], v["lin2"]),
        wavelength_angstrom=v["wavelength"],
        frequency_hz=v["frequency"],
        guide=int(round(v["guide"])),
    )


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
