"""Validated parameters of the calibration flow and the approval form."""

from __future__ import annotations

from typing import Literal

from prefect.input import RunInput
from pydantic import BaseModel, Field

from snapcal_core.calibrant.peaks import PeakSettings
from snapcal_core.pipeline import CalibrationRequest
from snapcal_core.recipe.calibrate import RecipeSettings
from snapcal_core.recipe.difc_fit import FitMode
from snapcal_core.recipe.gate import QualityGate
from snapcal_core.recipe.peakfit import PeakFitSettings
from snapcal_core.recipe.pixel import PixelCalibrationSettings


class CalibrationParameters(BaseModel):
    """What an operator chooses when starting a calibration."""

    run_number: int = Field(gt=0, description="Run of the calibrant")
    sample: str = Field("diamond", description="Calibrant sample (name in the samples home, JSON file or NCrystal material)")
    grouping: str = Field("Column", description="Column, Bank, All or a grouping file")
    lite: bool = Field(True, description="Lite mode (8x8 superpixels) or native pixels")
    fit_mode: FitMode = Field(FitMode.DIFC, description="Constants fitted per group")
    convergence_threshold_bins: float = Field(0.5, gt=0, description="Pixel loop stops below this median |offset|")
    max_iterations: int = Field(5, ge=1, le=20, description="Pixel loop iteration limit")
    peak_function: Literal["b2b", "gaussian"] = Field("b2b", description="Peak profile of the group fits")
    fwhm_left: float = Field(1.5, gt=0, description="Fit window below each peak, in FWHM")
    fwhm_right: float = Field(1.5, gt=0, description="Fit window above each peak, in FWHM")
    crystal_dmin: float = Field(0.4, gt=0, description="Smallest reflection d (angstrom)")
    crystal_dmax: float = Field(100.0, gt=0, description="Largest reflection d (angstrom)")
    skip_pixel: bool = Field(False, description="Skip the pixel cross-correlation loop")
    mask_file: str = Field("", description="Pixel mask file to apply from the start (SaveDiffCal table, MaskWorkspace "
                           "NeXus or SaveMask XML); empty: none")
    approval: Literal["manual", "auto", "gate"] = Field(
        "manual", description="manual: pause for a person; auto: accept; gate: accept only if every group passes the quality gate, else pause")
    gate: QualityGate = Field(default_factory=QualityGate, description="Thresholds of the quality gate (approval = gate)")
    auto_author: str = Field("", description="Author recorded when approval is auto or gate")
    pause_timeout_s: int = Field(3600, ge=1, description="How long to wait for a decision before ending, saving nothing")

    def request(self) -> CalibrationRequest:
        recipe = RecipeSettings(
            fit_mode=self.fit_mode, skip_pixel=self.skip_pixel,
            pixel=PixelCalibrationSettings(convergence_threshold_bins=self.convergence_threshold_bins,
                                           max_iterations=self.max_iterations),
            peaks=PeakSettings(crystal_d_min_angstrom=self.crystal_dmin, crystal_d_max_angstrom=self.crystal_dmax,
                               fwhm_multiplier_left=self.fwhm_left, fwhm_multiplier_right=self.fwhm_right),
            peak_fit=PeakFitSettings(profile=self.peak_function), mask_file=self.mask_file)
        return CalibrationRequest(run_number=self.run_number, sample=self.sample, grouping=self.grouping,
                                  lite=self.lite, recipe=recipe)


ITERATE_FIELDS = ("fit_mode", "convergence_threshold_bins", "max_iterations", "peak_function", "fwhm_left",
                  "fwhm_right", "crystal_dmin", "crystal_dmax", "skip_pixel", "mask_file")


class Approval(RunInput):
    """The decision form shown when the flow pauses (Prefect UI: Resume)."""

    decision: Literal["accept", "iterate", "cancel"] = Field(
        description="accept: save the chosen iteration; iterate: run again with the changes below; cancel: save nothing")
    author: str = Field(min_length=1, description="Who takes the decision (required)")
    comments: str = Field("", max_length=4000, description="Stored with the calibration")
    applies_to: str = Field(description="Runs the calibration applies to, e.g. '>=58810' or '58810,<59000'")
    iteration: int = Field(description="Which iteration to save (1 = first)")
    compare_versions: list[int] = Field(default_factory=list,
                                        description="Stored versions to compare with in the next report (iterate)")
    start_from_previous: bool = Field(False, description="Iterate from this iteration's table instead of geometry")
    fit_mode: FitMode | None = Field(None, description="Iterate: constants fitted per group")
    convergence_threshold_bins: float | None = Field(None, description="Iterate: pixel-loop threshold (bins)")
    max_iterations: int | None = Field(None, description="Iterate: pixel-loop iteration limit")
    peak_function: Literal["b2b", "gaussian"] | None = Field(None, description="Iterate: peak profile")
    fwhm_left: float | None = Field(None, description="Iterate: window below peaks (FWHM)")
    fwhm_right: float | None = Field(None, description="Iterate: window above peaks (FWHM)")
    crystal_dmin: float | None = Field(None, description="Iterate: smallest reflection d")
    crystal_dmax: float | None = Field(None, description="Iterate: largest reflection d")
    skip_pixel: bool | None = Field(None, description="Iterate: skip the pixel loop")
    mask_file: str | None = Field(None, description="Iterate: pixel mask file (empty: none)")

    def changes(self) -> dict:
        return {k: getattr(self, k) for k in ITERATE_FIELDS if getattr(self, k) is not None}
