"""The recipe tasks' cache keys stamp the request's own input files (tasks/cache.py), so an edited
mask, grouping or sample file is never served a result cached for its old content. Pure: no server."""

from __future__ import annotations

import os
from types import SimpleNamespace

from snapcal_core.pipeline import CalibrationRequest
from snapcal_core.recipe.calibrate import RecipeSettings
from tasks.cache import path_stamp, stamped_key
from tasks.calibration import REQUEST_FILES

CONTEXT = SimpleNamespace(task=SimpleNamespace(name="pixel_iteration"))


def _key(request: CalibrationRequest) -> str:
    return stamped_key("events_path", *REQUEST_FILES)(CONTEXT, {"events_path": None, "request": request})


def _touch(path, text: str, mtime_ns: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_an_edited_mask_file_changes_the_key(tmp_path):
    mask = tmp_path / "mask.xml"
    _touch(mask, "<detector-masking/>", 1_000_000_000)
    request = CalibrationRequest(run_number=1, sample="diamond", grouping="Column", lite=True,
                                 recipe=RecipeSettings(mask_file=str(mask)))
    before = _key(request)
    assert _key(request) == before
    _touch(mask, "<detector-masking><group><detids>1-8</detids></group></detector-masking>", 2_000_000_000)
    assert _key(request) != before


def test_edited_grouping_and_sample_files_change_the_key(tmp_path):
    grouping, sample = tmp_path / "grouping.xml", tmp_path / "sample.json"
    _touch(grouping, "a", 1_000_000_000)
    _touch(sample, "b", 1_000_000_000)
    request = CalibrationRequest(run_number=1, sample=str(sample), grouping=str(grouping), lite=True)
    before = _key(request)
    _touch(grouping, "aa", 2_000_000_000)
    after_grouping = _key(request)
    _touch(sample, "bb", 2_000_000_000)
    assert len({before, after_grouping, _key(request)}) == 3


def test_names_and_an_empty_mask_stamp_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "" must not stamp the working directory
    (tmp_path / "unrelated.txt").write_text("x")
    assert path_stamp("") == [] and path_stamp(None) == [] and path_stamp("Column") == []
    request = CalibrationRequest(run_number=1, sample="diamond", grouping="Column", lite=True)
    before = _key(request)
    (tmp_path / "unrelated.txt").write_text("changed")
    assert _key(request) == before
