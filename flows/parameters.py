"""Validated parameters of the calibration flow and the approval form."""

from __future__ import annotations

import copy
from typing import Any, Literal

from prefect.input import RunInput
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from snapcal_core.calibrant.peaks import PeakSettings
from snapcal_core.pipeline import CalibrationRequest
from snapcal_core.recipe.calibrate import RecipeSettings
from snapcal_core.recipe.difc_fit import FitMode
from snapcal_core.recipe.gate import QualityGate
from snapcal_core.recipe.peakfit import PeakFitSettings
from snapcal_core.recipe.pixel import PixelCalibrationSettings
from snapcal_core.storage.models import check_author
from snapcal_core.storage.paths import MAX_AUTHOR_CHARS, MAX_COMMENT_CHARS


class CalibrationParameters(BaseModel):
    """What an operator chooses when starting a calibration."""

    run_number: int = Field(gt=0, description="Run of the calibrant")
    sample: str = Field("diamond", description="Calibrant sample (name in the samples home, JSON file or NCrystal material)")
    grouping: str = Field("Column", description="Column, Bank, All or a grouping file")
    lite: bool = Field(True, description="Lite mode (8x8 superpixels) or native pixels")
    fit_mode: FitMode = Field(FitMode.DIFC, title="Fit mode", description="Constants fitted per group")
    convergence_threshold_bins: float = Field(0.5, gt=0, title="Convergence threshold (bins)",
                                              description="Pixel loop stops below this median |offset|")
    max_iterations: int = Field(5, ge=1, le=20, title="Pixel-loop iterations, at most",
                                description="Pixel loop iteration limit")
    peak_function: Literal["b2b", "gaussian"] = Field("b2b", title="Peak function",
                                                      description="Peak profile of the group fits")
    fwhm_left: float = Field(1.5, gt=0, title="Window below peaks (FWHM)", description="Fit window below each peak, in FWHM")
    fwhm_right: float = Field(1.5, gt=0, title="Window above peaks (FWHM)", description="Fit window above each peak, in FWHM")
    crystal_dmin: float = Field(0.4, gt=0, title="Smallest d (angstrom)", description="Smallest reflection d (angstrom)")
    crystal_dmax: float = Field(100.0, gt=0, title="Largest d (angstrom)", description="Largest reflection d (angstrom)")
    skip_pixel: bool = Field(False, title="Skip the pixel loop", description="Skip the pixel cross-correlation loop")
    mask_file: str = Field("", title="Mask file", description="Pixel mask file to apply from the start (SaveDiffCal "
                           "table, MaskWorkspace NeXus or SaveMask XML); empty: none")
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


#: Recipe inputs a person may change for the next iteration (form fields "Iterate: ...").
ITERATE_FIELDS = ("fit_mode", "convergence_threshold_bins", "max_iterations", "peak_function", "fwhm_left",
                  "fwhm_right", "crystal_dmin", "crystal_dmax", "skip_pixel", "mask_file")

#: Form fields the person must send although they are prefilled (Prefect's forms label every field
#: with a default "(Optional)" unless the schema lists it as required).
ALWAYS_SENT = ("decision", "author", "applies_to", "iteration")


def _iterate(name: str) -> Any:
    """The field ``name`` of CalibrationParameters (same type limits) titled "Iterate: ..." for the form."""
    info = copy.copy(CalibrationParameters.model_fields[name])
    info.title = f"Iterate: {info.title[0].lower()}{info.title[1:]}"
    return info


def _required_in_form(schema: dict[str, Any]) -> None:
    schema["required"] = [name for name in ALWAYS_SENT if name in schema.get("properties", {})]


class Approval(RunInput):
    """The decision form shown when the flow pauses (Prefect UI: Resume). The first five fields are
    the decision; the "Iterate: ..." fields, prefilled with this iteration's inputs, matter only
    for ``iterate``. Decision, appliesTo and iteration have no default here (a script must say them);
    the form shown (:meth:`for_iteration`) prefills them."""

    model_config = ConfigDict(json_schema_extra=_required_in_form)

    # The decision fields carry their hint in the title (no help line): all four fit in the modal at once.
    decision: Literal["accept", "iterate", "cancel"] = Field(title="Decision (accept saves, iterate runs again, cancel ends)")
    author: str = Field(min_length=1, max_length=MAX_AUTHOR_CHARS, title="Author (your name, one line)")
    applies_to: str = Field(min_length=1, title="Applies to (runs, e.g. >=58810 or 58810,<59000)")
    iteration: int = Field(ge=1, title="Iteration to save (1 = first)")
    comments: str = Field("", max_length=MAX_COMMENT_CHARS, title="Comments", description="Stored with the calibration")
    fit_mode: FitMode = _iterate("fit_mode")
    convergence_threshold_bins: float = _iterate("convergence_threshold_bins")
    max_iterations: int = _iterate("max_iterations")
    peak_function: Literal["b2b", "gaussian"] = _iterate("peak_function")
    fwhm_left: float = _iterate("fwhm_left")
    fwhm_right: float = _iterate("fwhm_right")
    crystal_dmin: float = _iterate("crystal_dmin")
    crystal_dmax: float = _iterate("crystal_dmax")
    skip_pixel: bool = _iterate("skip_pixel")
    mask_file: str = _iterate("mask_file")
    start_from_previous: bool = Field(False, title="Iterate: start from the chosen iteration's table",
                                      description="Instead of the geometry")
    compare_versions: list[int] = Field(default_factory=list, title="Iterate: stored versions to compare",
                                        description="Shown in the next report")

    @field_validator("author")
    @classmethod
    def _one_line(cls, value: str) -> str:
        """The store's rule: stripped (a trailing newline from the form's text box is dropped), one line."""
        return check_author(value)

    @classmethod
    def prefilled(cls, description: str, **values: Any) -> type[Approval]:
        """This form with ``values`` as defaults and ``description`` above it. Unlike
        ``RunInput.with_initial_data``, every field keeps its title, help text and limits."""
        fields = {}
        for name, value in values.items():
            info = copy.copy(cls.model_fields[name])
            info.default, info.default_factory = value, None
            fields[name] = (info.annotation, info)
        model = create_model(cls.__name__, __base__=cls, **fields)
        model._description = description
        return model

    @classmethod
    def for_iteration(cls, description: str, *, params: CalibrationParameters, iteration: int) -> type[Approval]:
        """The form after ``iteration``: accept, applies to ``>=run``, that iteration, its recipe inputs."""
        return cls.prefilled(description, decision="accept", applies_to=f">={params.run_number}", iteration=iteration,
                             **{name: getattr(params, name) for name in ITERATE_FIELDS})

    def changes(self) -> dict:
        """The recipe inputs the person changed in the form (name -> new value)."""
        defaults = type(self).model_fields
        return {k: getattr(self, k) for k in ITERATE_FIELDS if getattr(self, k) != defaults[k].get_default()}
