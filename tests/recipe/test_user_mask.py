"""The user's pixel mask: read in any layout, checked against the grouping, masked from the start with
reason 'user', left out of the group parameters, and written beside the result's table."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from snapcal_core.constants import N_LITE_PIXELS
from snapcal_core.data.screen import MaskReason
from snapcal_core.errors import MaskCoversGroupError, MaskSizeError
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.io.mask import PixelMask, read_mask_file, write_mask_file, write_mask_xml
from snapcal_core.recipe.result_io import MASK_FILE, read_mask_reason, read_summary, read_table
from snapcal_core.recipe.user_mask import masked_table, user_mask
from snapcal_core.report.plots import mask_png
from snapcal_core.simulate.run import simulate_run

COLUMN = builtin_grouping("Column", lite=True)


def _mask(ids) -> PixelMask:
    masked = np.zeros(N_LITE_PIXELS, bool)
    masked[list(ids)] = True
    return PixelMask(masked=masked, lite=True)


def test_no_file_no_mask_and_a_mask_is_applied_to_the_table(tmp_path):
    assert user_mask(mask_file="", grouping=COLUMN) is None
    path = write_mask_xml(tmp_path / "m.xml", _mask([3, 4, 9000]), lite=True)
    masked = user_mask(mask_file=str(path), grouping=COLUMN)
    assert np.flatnonzero(masked).tolist() == [3, 4, 9000]
    table = masked_table(DiffCalTable.from_difc(np.ones(N_LITE_PIXELS), group=COLUMN.group_of_pixel), masked)
    assert np.flatnonzero(table.use == 0).tolist() == [3, 4, 9000]


def test_a_mask_of_a_whole_group_or_of_the_wrong_size_is_a_typed_error(tmp_path):
    whole = write_mask_file(tmp_path / "whole.h5", _mask(np.flatnonzero(COLUMN.group_of_pixel == 5)), lite=True)
    with pytest.raises(MaskCoversGroupError, match=r"every pixel of group\(s\) \[5\]"):
        user_mask(mask_file=str(whole), grouping=COLUMN)
    native = PixelMask(masked=np.zeros(1_179_648, bool), lite=False)
    wrong = write_mask_file(tmp_path / "native.h5", native, lite=False)
    with pytest.raises(MaskSizeError):
        user_mask(mask_file=str(wrong), grouping=COLUMN)


@pytest.mark.slow
def test_recipe_with_a_mask_masks_those_pixels_as_user_and_writes_the_mask(settings_env, tmp_path):
    from cli import _register_all, app

    _register_all()
    simulate_run(run_number=78, ipts=3, sample="diamond", n_events=3_000_000, seed=5)
    user = np.flatnonzero(COLUMN.group_of_pixel == 2)[:500]
    mask_path = write_mask_xml(tmp_path / "user.xml", _mask(user), lite=True)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["recipe", "78", "--sample", "diamond", "--mask", str(mask_path), "--output",
                                      str(out)])
    assert result.exit_code == 0, result.output
    assert "masked by reason:" in result.output and "user 500" in result.output
    table = read_table(out)
    assert np.all(table.use[user] == 0)
    summary = read_summary(out)
    by_group = {m.group_id: m for m in summary.masked}
    assert by_group[2].by_reason.get("user") == 500 and summary.settings.mask_file == str(mask_path)
    written = read_mask_file(out / MASK_FILE, n_pixels=N_LITE_PIXELS, lite=True)
    assert np.array_equal(written.masked, table.use == 0)
    reason = read_mask_reason(out)
    assert np.all(reason[user] == MaskReason.USER) and np.array_equal(reason > 0, table.use == 0)
    png = mask_png(reason, tmp_path / "mask.png", title="t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
