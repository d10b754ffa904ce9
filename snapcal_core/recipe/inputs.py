"""The recipe inputs an operator chooses (the start form, the CLI options, the iterate overrides of
the approval form), defined once: each field's default is the recipe's own (:class:`RecipeSettings`
and its parts), and :meth:`RecipeInputs.settings` places them in the nested settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from snapcal_core.calibrant.peaks import PeakSettings
from snapcal_core.recipe.calibrate import RecipeSettings
from snapcal_core.recipe.difc_fit import FitMode
from snapcal_core.recipe.peakfit import PeakFitSettings
from snapcal_core.recipe.pixel import PixelCalibrationSettings


def _default(model: type[BaseModel], name: str) -> Any:
    return model.model_fields[name].get_default(call_default_factory=True)


#: Each operator input -> (settings part, its field name): the one map between the flat inputs and
#: the nested settings.
WHERE = {
    "fit_mode": ("", "fit_mode"), "skip_pixel": ("", "skip_pixel"), "mask_file": ("", "mask_file"),
    "convergence_threshold_bins": ("pixel", "convergence_threshold_bins"), "max_iterations": ("pixel", "max_iterations"),
    "peak_function": ("peak_fit", "profile"), "fwhm_left": ("peaks", "fwhm_multiplier_left"),
    "fwhm_right": ("peaks", "fwhm_multiplier_right"), "crystal_dmin": ("peaks", "crystal_d_min_angstrom"),
    "crystal_dmax": ("peaks", "crystal_d_max_angstrom"),
}


class RecipeInputs(BaseModel):
    """The recipe inputs a person may set (start) or change (iterate), with the form's titles."""

    fit_mode: FitMode = Field(_default(RecipeSettings, "fit_mode"), title="Fit mode",
                              description="Constants fitted per group")
    convergence_threshold_bins: float = Field(_default(PixelCalibrationSettings, "convergence_threshold_bins"), gt=0,
                                              title="Convergence threshold (bins)",
                                              description="Pixel loop stops below this median |offset|")
    max_iterations: int = Field(_default(PixelCalibrationSettings, "max_iterations"), ge=1, le=20,
                                title="Pixel-loop iterations, at most", description="Pixel loop iteration limit")
    peak_function: Literal["b2b", "gaussian"] = Field(_default(PeakFitSettings, "profile"), title="Peak function",
                                                      description="Peak profile of the group fits")
    fwhm_left: float = Field(_default(PeakSettings, "fwhm_multiplier_left"), gt=0, title="Window below peaks (FWHM)",
                             description="Fit window below each peak, in FWHM")
    fwhm_right: float = Field(_default(PeakSettings, "fwhm_multiplier_right"), gt=0, title="Window above peaks (FWHM)",
                              description="Fit window above each peak, in FWHM")
    crystal_dmin: float = Field(_default(PeakSettings, "crystal_d_min_angstrom"), gt=0, title="Smallest d (angstrom)",
                                description="Smallest reflection d (angstrom)")
    crystal_dmax: float = Field(_default(PeakSettings, "crystal_d_max_angstrom"), gt=0, title="Largest d (angstrom)",
                                description="Largest reflection d (angstrom)")
    skip_pixel: bool = Field(_default(RecipeSettings, "skip_pixel"), title="Skip the pixel loop",
                             description="Skip the pixel cross-correlation loop")
    mask_file: str = Field(_default(RecipeSettings, "mask_file"), title="Mask file",
                           description="Pixel mask file to apply from the start (SaveDiffCal table, MaskWorkspace "
                           "NeXus or SaveMask XML); empty: none")

    def settings(self) -> RecipeSettings:
        """The recipe's settings with these inputs in place (every other knob at its default)."""
        parts: dict[str, dict[str, Any]] = {"": {}, "pixel": {}, "peaks": {}, "peak_fit": {}}
        for name, (part, field) in WHERE.items():
            parts[part][field] = getattr(self, name)
        return RecipeSettings(**parts[""], pixel=PixelCalibrationSettings(**parts["pixel"]),
                              peaks=PeakSettings(**parts["peaks"]), peak_fit=PeakFitSettings(**parts["peak_fit"]))

    def inputs(self) -> dict[str, Any]:
        """The recipe inputs alone (name -> value), e.g. of a subclass that holds more fields."""
        return {name: getattr(self, name) for name in RecipeInputs.model_fields}
