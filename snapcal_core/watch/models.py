"""What the watcher announces and what it remembers between scans and restarts."""

from __future__ import annotations

import datetime as dt
import uuid
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
    event_id: uuid.UUID | None = Field(None, description="Id of the event announcing the run: the same on every "
                                       "retry and restart, so the server can drop a repeated delivery")


class SeenRun(BaseModel):
    """A complete run that is not a calibrant run (kept so its file is not read again)."""

    model_config = ConfigDict(frozen=True)

    run_number: int
    path: Path
    title: str


class ExistingRun(BaseModel):
    """A raw file already in the tree when the watcher first started without backfill (never read, never announced)."""

    model_config = ConfigDict(frozen=True)

    run_number: int
    path: Path


class RejectedRun(BaseModel):
    """A raw file still unreadable long after it stopped changing: reported, skipped until the file changes."""

    model_config = ConfigDict(frozen=True)

    run_number: int
    path: Path
    size_bytes: int = Field(ge=0, description="File size when it was rejected")
    mtime_ns: int = Field(description="File modification time when it was rejected (ns since the epoch)")
    reason: str = Field(description="Why it cannot be read")


class WatchState(BaseModel):
    """Every run the watcher has dealt with, keyed by run number (a run is in at most one of the maps)."""

    version: int = Field(2, description="State file format version (1: announced and ignored only)")
    announced: dict[int, Acquisition] = Field(default_factory=dict, description="Accepted by the server")
    pending: dict[int, Acquisition] = Field(default_factory=dict,
                                            description="Complete calibrant runs whose event the server has not "
                                            "accepted yet (retried with backoff, also after a restart)")
    ignored: dict[int, SeenRun] = Field(default_factory=dict, description="Complete runs that are not calibrant runs")
    existing: dict[int, ExistingRun] = Field(default_factory=dict,
                                             description="Already in the tree at the first start, not backfilled")
    rejected: dict[int, RejectedRun] = Field(default_factory=dict, description="Corrupt files, skipped")
