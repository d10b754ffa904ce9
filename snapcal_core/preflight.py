"""Checks of a calibration's inputs before any event is read: run, IPTS and file, sample, grouping,
pixel mask, author.

Each check raises the typed error of its input, naming it; :func:`check_calibration` runs them in
the order an operator would fix them (a few seconds at most: a file header, the calibrant's
reflections, a grouping or mask file) and returns what it learnt about the run. ``snapcal recipe``,
``snapcal calibrate`` (before it starts a server) and the flow's resolve step call it first, so a typo costs no load.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.data.locate import locate_run
from snapcal_core.data.read import read_header
from snapcal_core.errors import RunNotFoundError
from snapcal_core.instrument.groupings import load_grouping
from snapcal_core.instrument.types import Grouping
from snapcal_core.models import DetectorState
from snapcal_core.recipe.user_mask import user_mask
from snapcal_core.settings import SnapcalSettings, get_settings
from snapcal_core.storage.models import check_author
from snapcal_core.storage.paths import list_state_ids


class RunRef(BaseModel):
    """A resolved run (what the checks learnt): where its events are, the instrument state it was
    taken in, and whether that state is new. Every later step receives it; nothing re-derives it."""

    run_number: int
    ipts: int
    event_file: str = Field(description="The file the load reads: the Lite copy in Lite mode when present, else raw")
    state: DetectorState
    state_id: str
    new_state: bool = Field(False, description="No calibration of this state in the calibration home yet")

    def announcement(self) -> str | None:
        """The line announcing a new instrument state (None for a known one)."""
        if not self.new_state:
            return None
        return f"new instrument state {self.state_id} (first calibration of this state)"


def event_file(run_number: object, *, lite: bool, settings: SnapcalSettings) -> tuple[int, int, Path]:
    """``(run, ipts, file)``: the file a load would read (Lite copy when Lite and present, else the raw file)."""
    where = locate_run(run_number, data_root=settings.data_root)
    if lite and where.lite_path.is_file():
        return where.run_number, where.ipts, where.lite_path
    if not where.raw_path.is_file():
        raise RunNotFoundError(f"run {where.run_number}: raw file {where.raw_path} does not exist "
                               f"(data root {settings.data_root})")
    return where.run_number, where.ipts, where.raw_path


def check_sample(sample: str, settings: SnapcalSettings) -> None:
    """The sample is a known name, a readable sample file or an NCrystal material with reflections."""
    calibrant_reflections(load_sample(sample, settings))  # cached: the recipe's own call reuses it


def check_grouping_and_mask(grouping: str, *, lite: bool, mask_file: str) -> Grouping:
    """The grouping is built in or a readable file of the mode; the mask (if any) fits it and leaves every group a pixel."""
    groups = load_grouping(grouping, lite=lite)
    user_mask(mask_file=str(Path(mask_file).expanduser()) if mask_file else "", grouping=groups)
    return groups


def check_calibration(
    *, run_number: object, sample: str, grouping: str = "Column", lite: bool = True, mask_file: str = "",
    author: str | None = None, settings: SnapcalSettings | None = None,
) -> RunRef:
    """Every input of a calibration checked before any event is read; the first problem raises its typed error."""
    settings = settings or get_settings()
    run, ipts, path = event_file(run_number, lite=lite, settings=settings)  # validates the run number
    if author is not None:
        check_author(author)
    state = read_header(path).state  # the DAS logs only: a missing PV or corrupt file shows here
    check_sample(sample, settings)
    check_grouping_and_mask(grouping, lite=lite, mask_file=mask_file)
    state_id = state.state_id()
    new = state_id not in list_state_ids(settings.calibration_home)
    return RunRef(run_number=run, ipts=ipts, event_file=str(path), state=state, state_id=state_id, new_state=new)
