"""Types of the instrument model: groupings and per-group parameters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class Grouping:
    """A pixel grouping: the focus group of every pixel id (0 = in no group)."""

    name: str
    lite: bool
    group_of_pixel: np.ndarray  # int32, shape (n_pixels,), indexed by pixel id

    @property
    def group_ids(self) -> np.ndarray:
        """Sorted ids of the non-empty groups (0 excluded)."""
        ids = np.unique(self.group_of_pixel)
        return ids[ids > 0]

    @property
    def n_pixels(self) -> int:
        return int(self.group_of_pixel.shape[0])


class GroupParameters(BaseModel):
    """Geometry and resolution of one focus group (pixel means)."""

    model_config = ConfigDict(frozen=True)

    group_id: int
    n_pixels: int
    two_theta_rad: float = Field(description="Mean two-theta of the group's pixels")
    two_theta_deg: float = Field(description="Same in degrees")
    l2_m: float = Field(description="Mean secondary flight path")
    delta_d_over_d: float = Field(description="Resolution dd/d at the mean two-theta (SCIENCE.md formula)")
    d_min_angstrom: float = Field(description="Smallest d that every pixel of the group reaches in the band")
    d_max_angstrom: float = Field(description="Largest d that every pixel of the group reaches in the band")
    difc_us_per_angstrom: float = Field(description="Geometric DIFC at the mean L and two-theta")
