"""Domain nouns shared across steps (one line of meaning each).

Pydantic models cross boundaries (files, Prefect, CLI); arrays live in frozen dataclasses.
Step-specific types live beside their step (e.g. ``calibrant/types.py``) and are re-exported here
once stable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from snapcal_core.errors import InvalidRunNumberError


def validate_run_number(run: object) -> int:
    """Return ``run`` as a positive int or raise :class:`InvalidRunNumberError` naming it."""
    try:
        value = int(str(run).strip())
    except (TypeError, ValueError):
        raise InvalidRunNumberError(f"run number {run!r} is not a positive integer") from None
    if value <= 0 or str(run).strip().lstrip("+") != str(value):
        raise InvalidRunNumberError(f"run number {run!r} is not a positive integer")
    return value


class DetectorState(BaseModel):
    """The instrument state that decides which calibration applies (SNAPRed's DetectorState)."""

    model_config = ConfigDict(frozen=True)

    arc_deg: tuple[float, float] = Field(description="(det_arc1, det_arc2) in degrees")
    lin_m: tuple[float, float] = Field(description="(det_lin1, det_lin2) in metres")
    wavelength_angstrom: float = Field(description="Requested central wavelength")
    frequency_hz: float = Field(description="Source/chopper frequency")
    guide: int = Field(description="Guide position: 1 = in, 2 = out")

    def state_id(self) -> str:
        """SNAPRed-compatible state id: shake_256 (8 bytes, hex) of the rounded state JSON."""
        payload = {
            "vdet_arc1": round(self.arc_deg[0] / 0.5) * 0.5,
            "vdet_arc2": round(self.arc_deg[1] / 0.5) * 0.5,
            "WavelengthUserReq": round(self.wavelength_angstrom / 0.1) * 0.1,
            "Frequency": int(round(self.frequency_hz)),
            "Pos": int(self.guide),
        }
        return hashlib.shake_256(json.dumps(payload).encode()).digest(8).hex()


class RunMetadata(BaseModel):
    """What a raw file tells about its run besides the events."""

    run_number: int
    ipts: int
    title: str = ""
    start_time: str = ""
    end_time: str = ""
    proton_charge: float = Field(0.0, description="Integrated proton charge (file units)")
    state: DetectorState
    raw_path: str = Field(description="File the events came from")
    n_events_in_file: int = Field(0, description="Events of the file's detector banks, before the TOF-band crop")
    n_events_out_of_range: int = Field(0, description="Events whose id is beyond the instrument's pixels (dropped)")
    n_prompt_pulse_events: int = Field(0, description="In-band events removed as prompt pulse (instrument/prompt_pulse.py)")
    screened_native_pixels: dict[str, int] = Field(default_factory=dict, description="Native pixels masked at load "
                                                   "per reason (data/screen.py; their events dropped)")
    n_screened_events: int = Field(0, description="Events in the file of the screened native pixels (dropped)")
    n_error_events: int = Field(0, description="Events in bank_error_events (counted, not used)")
    n_unmapped_events: int = Field(0, description="Events in bank_unmapped_events (counted, not used)")
    missing_banks: tuple[str, ...] = Field((), description="Panel event groups bank<N>_events absent from the file")
    pulse_time_offset: str = Field("", description="ISO time EventData.pulse_time_s counts from (its offset)")


@dataclass(frozen=True)
class EventData:
    """Neutron events of one run in memory: pixel ids (native or Lite) and TOF in us."""

    pixel: np.ndarray  # uint32, native detector id or Lite pixel id
    tof_us: np.ndarray  # float32
    lite: bool
    metadata: RunMetadata
    pulse_index: np.ndarray | None = None  # uint32 per event into pulse_time_s (2**32-1: no pulse); if loaded
    pulse_time_s: np.ndarray | None = None  # float64 per pulse, seconds after metadata.pulse_time_offset
    #: MaskReason (uint8) of every native pixel screened at load (data/screen.py; their events dropped);
    #: None when the file was not screened (a Lite copy, or screening off)
    native_mask_reason: np.ndarray | None = None

    @property
    def n_events(self) -> int:
        return int(self.tof_us.shape[0])
