"""Which runs are calibrant runs: title regexes and explicit run numbers -> calibrant sample.

A rule file is JSON (``.json``) or TOML (``.toml``) with the fields of :class:`CalibrantRules`.
Explicit ``runs`` win over ``titles``; among ``titles`` the first matching pattern wins.
Patterns are Python regexes searched (not full-matched) in the title, case-insensitively.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from snapcal_core.watch.errors import RuleFileError


class TitleRule(BaseModel):
    """A title regex and the calibrant sample a matching run is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str = Field(description="Python regex searched in the run title, case-insensitively")
    sample: str = Field(min_length=1, description="Calibrant sample name (e.g. 'diamond')")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return pattern

    def matches(self, title: str) -> bool:
        return re.search(self.pattern, title, re.IGNORECASE) is not None


#: Titles of SNAP's calibrant runs: diamond, silicon (also a bare "Si") and ceria (also "CeO2").
DEFAULT_TITLE_RULES: tuple[TitleRule, ...] = (
    TitleRule(pattern=r"diamond", sample="diamond"),
    TitleRule(pattern=r"silicon|(?<![a-z])si(?![a-z])", sample="silicon"),
    TitleRule(pattern=r"ceo2|ceria", sample="ceria"),
)


class CalibrantRules(BaseModel):
    """Which runs the watcher announces, and how they are to be calibrated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    titles: tuple[TitleRule, ...] = Field(DEFAULT_TITLE_RULES, description="Title regexes, first match wins")
    runs: dict[int, str] = Field(default_factory=dict, description="Run number -> sample; wins over titles")
    grouping: str = Field("Column", min_length=1, description="Pixel grouping of the calibration")
    lite: bool = Field(True, description="Calibrate on the Lite (binned) pixels")

    @field_validator("runs")
    @classmethod
    def _positive_runs(cls, runs: dict[int, str]) -> dict[int, str]:
        for run, sample in runs.items():
            if run <= 0:
                raise ValueError(f"run number {run} is not a positive integer")
            if not sample.strip():
                raise ValueError(f"run {run} has an empty sample name")
        return runs

    def sample_for(self, *, run_number: int, title: str) -> str | None:
        """The calibrant sample of the run, or None when it is not a calibrant run."""
        if run_number in self.runs:
            return self.runs[run_number]
        return next((rule.sample for rule in self.titles if rule.matches(title)), None)

    @classmethod
    def from_file(cls, path: Path | str) -> CalibrantRules:
        """Rules from a ``.json`` or ``.toml`` file; :class:`RuleFileError` names the file and field."""
        return load_rules(path)


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "<top level>"


def _parse(path: Path) -> object:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise RuleFileError(f"rule file {path}: unsupported suffix {path.suffix!r} (use .json or .toml)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(f"rule file {path} cannot be read: {exc}") from exc
    try:
        return json.loads(text) if suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleFileError(f"rule file {path} is not valid {suffix[1:].upper()}: {exc}") from exc


def load_rules(path: Path | str) -> CalibrantRules:
    """Read and validate a rule file; any problem is a :class:`RuleFileError` naming file and field."""
    path = Path(path)
    data = _parse(path)
    if not isinstance(data, dict):
        raise RuleFileError(f"rule file {path}: top level must be a table/object, got {type(data).__name__}")
    try:
        return CalibrantRules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"field '{_field(e['loc'])}': {e['msg']}" for e in exc.errors())
        raise RuleFileError(f"rule file {path}: {problems}") from exc
