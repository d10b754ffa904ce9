"""``snapcal groups`` prints the per-group parameters of a grouping as a table or JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import _register_all, app
from snapcal_core.errors import GroupingError
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping, write_grouping_file
from snapcal_core.instrument.parameters import group_parameters
from snapcal_core.io.diffcal import DiffCalTable, write_diffcal


@pytest.fixture(scope="module", autouse=True)
def _commands_registered() -> None:
    _register_all()  # idempotent


def _run(*args: str):
    return CliRunner().invoke(app, ["groups", *args])


def test_groups_json_equals_group_parameters_at_the_reference_state():
    result = _run("--grouping", "column", "--lite", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    expected = group_parameters(geometry=snap_geometry(arc_deg=(-65.3, 104.95), lin_m=(0.045, 0.043), lite=True),
                                grouping=builtin_grouping("Column", lite=True), wavelength_angstrom=2.1)
    assert rows == [p.model_dump(mode="json") for p in expected]
    assert {"n_pixels", "two_theta_rad", "two_theta_deg", "l2_m", "delta_d_over_d", "d_min_angstrom",
            "d_max_angstrom"} <= set(rows[0])


def test_groups_takes_arc_lin_and_wavelength():
    result = _run("--grouping", "Bank", "--lite", "--arc", "-40", "80", "--lin", "0.1", "0.0", "--wavelength", "3.5",
                  "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    expected = group_parameters(geometry=snap_geometry(arc_deg=(-40.0, 80.0), lin_m=(0.1, 0.0), lite=True),
                                grouping=builtin_grouping("Bank", lite=True), wavelength_angstrom=3.5)
    assert rows == [p.model_dump(mode="json") for p in expected]
    # East arm centre sits near det_arc2 (the sin(theta) weighting pulls the mean up by ~3 degrees)
    assert rows[0]["two_theta_deg"] == pytest.approx(80.0, abs=3.5)


def test_groups_table_lists_every_group_of_a_grouping_file(tmp_path):
    path = write_grouping_file(tmp_path / "cols.h5", builtin_grouping("Column", lite=True))
    result = _run("--grouping", str(path), "--lite")
    assert result.exit_code == 0, result.output
    assert "Lite" in result.output and "d range" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("│")]
    assert [line.split("│")[1].strip() for line in lines] == ["1", "2", "3", "4", "5", "6"]
    assert all(line.split("│")[2].strip() == "3072" for line in lines)


def test_groups_with_an_unknown_grouping_raises_a_grouping_error():
    result = _run("--grouping", "Row")
    assert isinstance(result.exception, GroupingError) and "'Row'" in str(result.exception)


def test_groups_mask_leaves_masked_pixels_out(tmp_path):
    """``--mask TABLE``: the table's use = 0 rows are masked; a fully masked group is not listed."""
    grouping = builtin_grouping("Column", lite=True)
    table = DiffCalTable.from_difc(np.ones(grouping.n_pixels), group=grouping.group_of_pixel)
    table.use[grouping.group_of_pixel == 6] = 0
    table.use[np.flatnonzero(grouping.group_of_pixel == 1)[:1000]] = 0
    mask_file = write_diffcal(tmp_path / "mask.h5", table)
    result = _run("--grouping", "Column", "--lite", "--mask", str(mask_file), "--json")
    assert result.exit_code == 0, result.output
    rows = {r["group_id"]: r for r in json.loads(result.output)}
    assert sorted(rows) == [1, 2, 3, 4, 5]
    assert (rows[1]["n_pixels"], rows[1]["n_masked"]) == (2072, 1000) and rows[2]["n_masked"] == 0
    native = write_diffcal(tmp_path / "native.h5", DiffCalTable.from_difc(np.ones(1_179_648)))
    result = _run("--grouping", "Column", "--lite", "--mask", str(native))
    assert result.exit_code != 0 and "do not fit 18432 pixels" in str(result.exception or result.output)
