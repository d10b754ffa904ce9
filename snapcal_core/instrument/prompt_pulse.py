"""The prompt pulse: the flash of fast neutrons and gammas at every source pulse, removed as Mantid does.

SNAPRed calls Mantid's ``RemovePromptPulse`` after cropping to the state's TOF band, with the
instrument parameters ``width`` (1600 us) and ``frequency`` (60.4 Hz) of its ``SNAPInstPrm``.
Mantid removes the events in ``[t_k, t_k + width]`` at every pulse time ``t_k = k * period``
inside the data's TOF range (``RemovePromptPulse::calculatePulseTimes``).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class PromptPulseSettings(BaseModel):
    """Which events count as prompt pulse (SNAPRed's instrument parameters by default)."""

    model_config = ConfigDict(frozen=True)

    remove: bool = Field(True, description="Remove the prompt-pulse events (SNAPRed always does)")
    width_us: float = Field(1600.0, gt=0.0, description="TOF width removed after each pulse time (SNAPInstPrm width)")
    frequency_hz: float = Field(60.4, gt=0.0, description="Source frequency giving the pulse period (SNAPInstPrm frequency)")


def prompt_pulse_times_us(*, tof_min_us: float, tof_max_us: float, settings: PromptPulseSettings) -> np.ndarray:
    r"""Pulse times inside the TOF range ``[tof_min, tof_max)``, as ``RemovePromptPulse`` finds them.

    .. math:: t_k = k\,P, \quad P = 10^6 / f \ \mathrm{us}, \quad t_{\min} \le t_k < t_{\max}

    plus :math:`t_0 = 0` when :math:`0 < t_{\min} < w` (the zeroth pulse's tail reaches the data).
    Empty when nothing is to be removed.
    """
    if not settings.remove:
        return np.empty(0)
    period = 1e6 / settings.frequency_hz
    first = [0.0] if 0.0 < tof_min_us < settings.width_us else []
    k_start = int(np.ceil(tof_min_us / period)) if tof_min_us > 0 else 1
    rest = [k * period for k in range(max(k_start, 1), int(np.ceil(tof_max_us / period)) + 1) if k * period < tof_max_us]
    return np.array(first + rest, dtype=np.float64)
