"""What the store writes: SNAPRed's index entry (field names exactly), records and requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from snapcal_core.errors import InvalidOptionsError, StorageError
from snapcal_core.models import DetectorState, validate_run_number
from snapcal_core.storage.applies_to import default_applies_to, normalise
from snapcal_core.storage.paths import MAX_AUTHOR_CHARS, MAX_COMMENT_CHARS, check_file_name


def check_author(text: str) -> str:
    """The author as the store records it: stripped, not blank, one line without control characters, at most
    ``MAX_AUTHOR_CHARS`` characters. :class:`InvalidOptionsError` (a ``ValueError``, so pydantic validators
    may call it) names the problem: CLI, flow and approval form check an author before any work, with this rule."""
    author = str(text).strip()
    if not author:
        raise InvalidOptionsError("author must not be blank")
    bad = next((i for i, ch in enumerate(author) if ch < " " or ch == "\x7f"), None)
    if bad is not None:
        what = "a line break" if author[bad] in "\r\n" else f"control character {author[bad]!r}"
        raise InvalidOptionsError(f"author {author[:40]!r} must be one line without control characters "
                                  f"({what} at character {bad + 1})")
    if len(author) > MAX_AUTHOR_CHARS:
        raise InvalidOptionsError(f"author {author[:40]!r}... is {len(author)} characters long; "
                                  f"at most {MAX_AUTHOR_CHARS}")
    return author


class IndexEntry(BaseModel):
    """One line of ``CalibrationIndex.json`` (SNAPRed's IndexEntry field names)."""

    model_config = ConfigDict(extra="allow")

    runNumber: str
    useLiteMode: bool
    version: int = Field(ge=0, le=9999)
    appliesTo: str
    comments: str = ""
    author: str = ""
    timestamp: float = Field(description="Unix seconds")

    @field_validator("runNumber", mode="before")
    @classmethod
    def _run_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("comments", "author", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:  # SNAPRed allows null here
        return "" if value is None else value


class SaveRequest(BaseModel):
    """Everything needed to save one calibration; validated before anything is written."""

    run_number: int
    state: DetectorState
    lite: bool
    author: str = Field(min_length=1, max_length=MAX_AUTHOR_CHARS, description="Who approved the calibration")
    comments: str = Field("", max_length=MAX_COMMENT_CHARS)
    applies_to: str | None = Field(None, description="Default '>=<run_number>'")
    calibrant: str = Field(min_length=1, max_length=200)
    grouping: str = Field(min_length=1, max_length=200)
    calculation_parameters: dict[str, Any] = Field(default_factory=dict)
    group_metrics: list[dict[str, Any]] = Field(default_factory=list)
    iterations: list[dict[str, Any]] = Field(default_factory=list)
    approval: dict[str, Any] = Field(
        default_factory=dict,
        description="How it was approved: policy (manual/auto/gate), decision, gate thresholds and verdicts")

    @field_validator("run_number", mode="before")
    @classmethod
    def _run(cls, value: object) -> int:
        return validate_run_number(value)

    @field_validator("author")
    @classmethod
    def _author(cls, value: str) -> str:
        return check_author(value)

    @field_validator("applies_to")
    @classmethod
    def _applies(cls, value: str | None) -> str | None:
        return None if value is None else normalise(value)

    @property
    def applies_to_text(self) -> str:
        return self.applies_to or default_applies_to(self.run_number)


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
    approval: dict[str, Any] = Field(default_factory=dict, description="Policy, decision, gate thresholds and verdicts")
    softwareVersion: str
    tableFile: str
    checksums: dict[str, str] = Field(description="sha256 of every other file in the version folder")

    @field_validator("tableFile")
    @classmethod
    def _plain_table(cls, value: str) -> str:
        return _plain(value)

    @field_validator("checksums")
    @classmethod
    def _plain_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            _plain(name)
        return value


def describe(exc: ValidationError) -> str:
    """A pydantic error on one line: ``field.path: message; ...`` (the first three problems)."""
    errors = exc.errors()
    text = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in errors[:3])
    return text + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")


def _plain(name: str) -> str:
    """A record only names files inside its own folder (a hand-edited record cannot point elsewhere)."""
    try:
        return check_file_name(name, reserved=set())
    except StorageError as exc:
        raise ValueError(str(exc)) from None


class SavedVersion(BaseModel):
    """Where a save went."""

    state_id: str
    lite: bool
    version: int
    path: str
    entry: IndexEntry
