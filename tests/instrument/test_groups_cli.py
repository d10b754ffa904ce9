"""``snapcal groups`` prints the per-group parameters of a grouping as a table or JSON."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from snapcal_core.cli import _register_all, app
from snapcal_core.errors import GroupingError
from snapcal_core.instrument.geometry import snap_geometry
from snapcal_core.instrument.groupings import builtin_grouping, write_grouping_file
from snapcal_core.instrument.parameters import group_parameters



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
    assert rows[0]["two_theta_deg"] == pytest.approx(80.0, abs=2.0)  # East arm centre sits near det_arc2


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
