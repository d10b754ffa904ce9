"""What the store writes: SNAPRed's index entry (field names exactly), records and requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from snapcal_core.models import DetectorState, validate_run_number
from snapcal_core.storage.applies_to import normalise
from snapcal_core.storage.paths import MAX_COMMENT_CHARS


class IndexEntry(BaseModel):
    """One line of ``CalibrationIndex.json`` (SNAPRed's IndexEntry field names)."""

    model_config = ConfigDict(extra="allow")

    runNumber: str
    useLiteMode: bool
    version: int
    appliesTo: str
    comments: str
    author: str
    timestamp: float = Field(description="Unix seconds")


class SaveRequest(BaseModel):
    """Everything needed to save one calibration; validated before anything is written."""

    run_number: int
    state: DetectorState
    lite: bool
    author: str = Field(min_length=1, description="Who approved the calibration")
    comments: str = Field("", max_length=MAX_COMMENT_CHARS)
    applies_to: str | None = Field(None, description="Default '>=<run_number>'")
    calibrant: str
    grouping: str
    calculation_parameters: dict[str, Any] = Field(default_factory=dict)
    group_metrics: list[dict[str, Any]] = Field(default_factory=list)
    iterations: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("run_number", mode="before")
    @classmethod
    def _run(cls, value: object) -> int:
        return validate_run_number(value)

    @field_validator("author")
    @classmethod
    def _author(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("author must not be blank")
        return value.strip()

    @field_validator("applies_to")
    @classmethod
    def _applies(cls, value: str | None) -> str | None:
        return None if value is None else normalise(value)

    @property
    def applies_to_text(self) -> str:
        return self.applies_to or f">={self.run_number}"


class CalibrationRecord(BaseModel):
    """``CalibrationRecord.json``: what was calibrated, how, by whom, and the files' checksums."""

    runNumber: str
    useLiteMode: bool
    version: int
    stateId: str
    indexEntry: IndexEntry
    detectorState: DetectorState
    calibrant: str
    grouping: str
    calculationParameters: dict[str, Any]
    groupMetrics: list[dict[str, Any]]
    iterations: list[dict[str, Any]]
    softwareVersion: str
    tableFile: str
    checksums: dict[str, str] = Field(description="sha256 of every other file in the version folder")


class SavedVersion(BaseModel):
    """Where a save went."""

    state_id: str
    lite: bool
    version: int
    path: str
    entry: IndexEntry
