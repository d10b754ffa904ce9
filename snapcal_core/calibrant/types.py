"""What a calibrant predicts in a focus group: its peaks and their fit windows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PredictedPeak(BaseModel):
    """A calibrant reflection expected in one focus group, with its fit window in d."""

    model_config = ConfigDict(frozen=True)

    d_angstrom: float = Field(description="Reference d-spacing of the reflection")
    d_min_angstrom: float = Field(description="Lower edge of the fit window")
    d_max_angstrom: float = Field(description="Upper edge of the fit window")
    fwhm_angstrom: float = Field(description="Expected FWHM in d from the group resolution")
    intensity: float = Field(description="Relative powder intensity |F|^2 m d^4")
    hkl: tuple[tuple[int, int, int], ...] = ()


class GroupPeakList(BaseModel):
    """The predicted peaks of one focus group after window, weak-peak and overlap purges."""

    group_id: int
    peaks: list[PredictedPeak]
