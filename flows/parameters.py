"""Validated parameters of the calibration flow and the approval form."""

from __future__ import annotations

import copy
from typing import Any, Literal

from prefect.input import RunInput
from pydantic import ConfigDict, Field, create_model, field_validator

from snapcal_core.pipeline import CalibrationRequest
from snapcal_core.recipe.gate import ApprovalPolicy, QualityGate
from snapcal_core.recipe.inputs import RecipeInputs
from snapcal_core.storage.applies_to import default_applies_to
from snapcal_core.storage.models import check_author
from snapcal_core.storage.paths import MAX_AUTHOR_CHARS, MAX_COMMENT_CHARS


def _fields_first(first: tuple[str, ...], *, iterate_titles: bool = False) -> Any:
    """A ``json_schema_extra`` that lists ``first`` before the other properties (Prefect's forms show
    them in that order; inherited recipe inputs would otherwise come first), marks the
    ``ALWAYS_SENT`` ones required and (``iterate_titles``) titles the recipe inputs "Iterate: ..."."""

    def extra(schema: dict[str, Any]) -> None:
        props = schema.get("properties", {})
        schema["properties"] = {**{k: props[k] for k in first if k in props},
                                **{k: v for k, v in props.items() if k not in first}}
        if iterate_titles:
            for name in ITERATE_FIELDS:
                title = schema["properties"][name].get("title", name)
                schema["properties"][name]["title"] = f"Iterate: {title[0].lower()}{title[1:]}"
            schema["required"] = [name for name in ALWAYS_SENT if name in props]

    return extra


class CalibrationParameters(RecipeInputs):
    """What an operator chooses when starting a calibration: the run, and the recipe inputs
    (:class:`~snapcal_core.recipe.inputs.RecipeInputs`, defined once), and the approval policy."""

    model_config = ConfigDict(json_schema_extra=_fields_first(("run_number", "sample", "grouping", "lite")))

    run_number: int = Field(gt=0, description="Run of the calibrant")
    sample: str = Field("diamond", description="Calibrant sample (name in the samples home, JSON file or NCrystal material)")
    grouping: str = Field("Column", description="Column, Bank, All or a grouping file")
    lite: bool = Field(True, description="Lite mode (8x8 superpixels) or native pixels")
    approval: ApprovalPolicy = Field(
        "manual",
        description="manual: pause for a person; auto: accept; "
        "gate: accept only if every group passes the quality gate, else pause",
    )
    gate: QualityGate = Field(default_factory=QualityGate, description="Thresholds of the quality gate (approval = gate)")
    auto_author: str = Field("", description="Author recorded when approval is auto or gate")
    pause_timeout_s: int = Field(3600, ge=1, description="How long to wait for a decision before ending, saving nothing")

    def request(self) -> CalibrationRequest:
        return CalibrationRequest(run_number=self.run_number, sample=self.sample, grouping=self.grouping,
                                  lite=self.lite, recipe=self.settings())


#: Recipe inputs a person may change for the next iteration (form fields "Iterate: ...").
ITERATE_FIELDS = tuple(RecipeInputs.model_fields)

#: Form fields the person must send although they are prefilled (Prefect's forms label every field
#: with a default "(Optional)" unless the schema lists it as required).
ALWAYS_SENT = ("decision", "author", "applies_to", "iteration")


class Approval(RunInput, RecipeInputs):
    """The decision form shown when the flow pauses (Prefect UI: Resume). The first five fields are
    the decision; the "Iterate: ..." fields, prefilled with this iteration's inputs, matter only
    for ``iterate``. Decision, appliesTo and iteration have no default here (a script must say them);
    the form shown (:meth:`for_iteration`) prefills them."""

    model_config = ConfigDict(json_schema_extra=_fields_first((*ALWAYS_SENT, "comments"), iterate_titles=True))

    # The decision fields carry their hint in the title (no help line): all four fit in the modal at once.
    decision: Literal["accept", "iterate", "cancel"] = Field(title="Decision (accept saves, iterate runs again, cancel ends)")
    author: str = Field(min_length=1, max_length=MAX_AUTHOR_CHARS, title="Author (your name, one line)")
    applies_to: str = Field(min_length=1, title="Applies to (runs, e.g. >=58810 or 58810,<59000)")
    iteration: int = Field(ge=1, title="Iteration to save (1 = first)")
    comments: str = Field("", max_length=MAX_COMMENT_CHARS, title="Comments", description="Stored with the calibration")
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
        fields: dict[str, Any] = {}  # create_model's field definitions, (annotation, FieldInfo)
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
        return cls.prefilled(description, decision="accept", applies_to=default_applies_to(params.run_number),
                             iteration=iteration, **params.inputs())

    def changes(self) -> dict:
        """The recipe inputs the person changed in the form (name -> new value)."""
        defaults = type(self).model_fields
        return {k: getattr(self, k) for k in ITERATE_FIELDS if getattr(self, k) != defaults[k].get_default()}
