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
    """Geometry and resolution of one focus group, as SNAPRed's PixelGroupingParametersCalculation
    computes them (docs/formats.md names the SNAPRed version): masked pixels excluded, angles and
    L2 weighted by sin(2theta/2), dd/d as Mantid's EstimateResolutionDiffraction combines a group."""

    model_config = ConfigDict(frozen=True)

    group_id: int
    n_pixels: int = Field(description="Unmasked pixels of the group (those the parameters are computed from)")
    n_masked: int = Field(0, description="Pixels of the group left out because they are masked")
    two_theta_rad: float = Field(description="sin(2theta/2)-weighted mean two-theta of the unmasked pixels")
    two_theta_deg: float = Field(description="Same in degrees")
    l2_m: float = Field(description="sin(2theta/2)-weighted mean secondary flight path of the unmasked pixels")
    delta_d_over_d: float = Field(description="Relative resolution dd/d (EstimateResolutionDiffraction, combined "
                                  "over the group's pixels)")
    d_min_angstrom: float = Field(description="SNAPRed's dResolution minimum: lambda_min / (2 sin theta_max) + "
                                  "low d crop")
    d_max_angstrom: float = Field(description="SNAPRed's dResolution maximum: lambda_max / (2 sin theta_min) - "
                                  "high d crop")
    common_d_min_angstrom: float | None = Field(None, description="Smallest d that EVERY unmasked pixel reaches "
                                                "in the band (None where the pixels are unknown)")
    common_d_max_angstrom: float | None = Field(None, description="Largest d that EVERY unmasked pixel reaches "
                                                "in the band (None where the pixels are unknown)")
    difc_us_per_angstrom: float = Field(description="Geometric DIFC at the group's L1 + L2 and two-theta")

    @property
    def peak_d_range_angstrom(self) -> tuple[float, float]:
        """The d range calibration peaks must lie in: SNAPRed's range, cut to what every pixel reaches.

        A peak outside the common range is cut by the band edge in some pixels, and a cut peak
        focused with whole ones has a biased centre.
        """
        lo = self.d_min_angstrom if self.common_d_min_angstrom is None else max(self.d_min_angstrom,
                                                                                 self.common_d_min_angstrom)
        hi = self.d_max_angstrom if self.common_d_max_angstrom is None else min(self.d_max_angstrom,
                                                                                 self.common_d_max_angstrom)
        return lo, hi
