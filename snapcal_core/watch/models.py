"""What the watcher announces and what it remembers between scans and restarts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class Acquisition(BaseModel):
    """A complete calibrant run, ready to be calibrated."""

    model_config = ConfigDict(frozen=True)

    run_number: int = Field(gt=0, description="Run number read from the file's /entry/run_number")
    ipts: int = Field(gt=0, description="IPTS of the folder holding the file")
    path: Path = Field(description="The raw file SNAP_<run>.nxs.h5")
    title: str = Field(description="/entry/title of the run")
    sample: str = Field(description="Calibrant sample name the rules gave the run")
    grouping: str = Field(description="Pixel grouping to calibrate with")
    lite: bool = Field(description="Calibrate on the Lite (binned) pixels")
    size_bytes: int = Field(ge=0, description="File size when it was found complete")
    detected_at: dt.datetime = Field(description="UTC time the file was found complete")


class SeenRun(BaseModel):
    """A complete run that is not a calibrant run (kept so its file is not read again)."""

    model_config = ConfigDict(frozen=True)

    run_number: int
    path: Path
    title: str


class WatchState(BaseModel):
    """Runs already announced and non-calibrant runs already seen, keyed by run number."""

    version: int = Field(1, description="State file format version")
    announced: dict[int, Acquisition] = Field(default_factory=dict)
    ignored: dict[int, SeenRun] = Field(default_factory=dict)
